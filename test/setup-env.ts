// Quiet library logs in tests unless a run asks for them (LOG_LEVEL=debug npm test).
process.env.LOG_LEVEL ??= 'silent';
