/** Jest globalTeardown: stops the S3 server test/global-setup.mjs started, if it started one. */
export default async function globalTeardown() {
  const server = globalThis.__SEDNA_S3_SERVER__;
  globalThis.__SEDNA_S3_SERVER__ = undefined;
  await server?.stop();
}
