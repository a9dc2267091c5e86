/**
 * Serves the web page (`/`, `/app.js`, `/style.css`) from the built assets in `dist/web` (the
 * build bundles `src/web/app.ts` and copies `src/web/public/`). Register it with
 * `buildServer({ plugins: [webPage()] })`. Only the public API is used by the page.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync } from 'fastify';

/** Content-Security-Policy of the page: everything from this origin, nothing from elsewhere. */
export const WEB_PAGE_CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/** The files the page needs, relative to its directory. */
export const WEB_PAGE_FILES = ['index.html', 'app.js', 'style.css'] as const;

/** `dist/web` of this package, found from this module's location (source or bundle). */
export function defaultWebDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === '@vqlm/server') return join(dir, 'dist', 'web');
    const parent = dirname(dir);
    if (parent === dir) throw new Error('web page: cannot find the @vqlm/server package root');
    dir = parent;
  }
}

/** A Fastify plugin serving the page from `dir` (default {@link defaultWebDir}); throws when the page is not built. */
export function webPage(options: { readonly dir?: string } = {}): FastifyPluginAsync {
  const dir = options.dir ?? defaultWebDir();
  const missing = WEB_PAGE_FILES.filter((file) => !existsSync(join(dir, file)));
  if (missing.length > 0) {
    throw new Error(`web page: ${missing.join(', ')} missing in ${dir}; build it with \`pnpm --filter @vqlm/server build\``);
  }
  return async (app) => {
    await app.register(fastifyStatic, {
      root: dir,
      wildcard: false,
      index: 'index.html',
      allowedPath: (path) => WEB_PAGE_FILES.some((file) => path === `/${file}` || path === '/'),
      setHeaders: (res) => {
        res.setHeader('content-security-policy', WEB_PAGE_CSP);
        res.setHeader('x-content-type-options', 'nosniff');
        res.setHeader('cache-control', 'no-cache');
      },
    });
  };
}

/** The page as a plugin list for `buildServer`, or none (with the reason) when it is not built. */
export function optionalWebPage(dir?: string): { readonly plugins: FastifyPluginAsync[]; readonly problem?: string } {
  try {
    return { plugins: [webPage(dir === undefined ? {} : { dir })] };
  } catch (error) {
    return { plugins: [], problem: error instanceof Error ? error.message : String(error) };
  }
}
