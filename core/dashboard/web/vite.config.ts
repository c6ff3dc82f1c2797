// Vite builds the dashboard into dist/: index.html plus content-hashed files
// under assets/. The daemon embeds dist/ (scripts/embed-assets.mjs) and serves
// it with a Content-Security-Policy of 'self' only, hence: no inline scripts
// or styles, no data: URIs (assetsInlineLimit 0), no module-preload polyfill
// (it would be an extra inline-capable snippet for browsers we do not target).
import { defineConfig } from 'vite';

export default defineConfig({
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    target: 'es2020',
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
    reportCompressedSize: true,
  },
});
