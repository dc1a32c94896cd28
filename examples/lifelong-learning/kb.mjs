#!/usr/bin/env node
// The knowledge base (Sedna's KB Deployment in the cloud; `sedna kb` does the same).
//
// Configured by Sedna's KB variables: KnowledgeBaseServer (`http://<ipv4>:<port>`, default
// 0.0.0.0:9020), KnowledgeBasePath (the folder of models, samples and the index; default the
// working directory) and KB_URL (the SQLite database, default sqlite:///lifelong_kb.sqlite3);
// `bind_port` overrides the port (0 picks a free one, for runs on one machine).
//
// Prints one JSON line `{url, dir, database}` once it listens; stops on SIGTERM/SIGINT.
import { KBServer, getIntegerParameter, getLogger, kbServerOptionsFromConfig, loadConfig } from 'sedna-sdk';

const log = getLogger('kb');
const options = kbServerOptionsFromConfig(loadConfig());
const port = getIntegerParameter('bind_port', undefined, { min: 0, max: 65535 });
const kb = await KBServer.create({ ...options, ...(port === undefined ? {} : { port }) });
const url = await kb.listen();
log.info({ url, dir: kb.dir }, 'knowledge base serving');
process.stdout.write(`${JSON.stringify({ url, dir: kb.dir, database: kb.db.file })}\n`);

const stop = async () => {
  await kb.close();
  process.exit(0);
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
