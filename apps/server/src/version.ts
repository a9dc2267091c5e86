import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
/** The server's own package version. */
export const SERVER_VERSION: string = (require('../package.json') as { version: string }).version;
