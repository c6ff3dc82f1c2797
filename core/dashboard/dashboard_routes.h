// The web dashboard's routes: the single-page app the daemon serves from the
// files embedded at build time (see embedded_assets.h, docs/dashboard.md).
//
//   GET|HEAD /              index.html              Cache-Control: no-cache
//   GET|HEAD /<file>        other top-level files   Cache-Control: no-cache
//                           (favicon.svg, index.html)
//   GET|HEAD /assets/<name> content-hashed JS/CSS   Cache-Control: public,
//                                                   max-age=31536000, immutable
//   /assets/<unknown>       404 {"error":"not_found",...}
//
// Every file response carries a strong ETag (If-None-Match with a matching
// tag, or "*", answers 304 with no body), its Content-Type, Vary:
// Accept-Encoding, and is gzip-encoded when the client accepts gzip and the
// file has a gzip variant. Every response (404s too) carries the security
// headers: a Content-Security-Policy that allows only 'self' (no inline
// scripts or styles, no framing), X-Content-Type-Options: nosniff,
// Referrer-Policy: no-referrer, X-Frame-Options: DENY.
//
// The API the page calls (/api/web/) is registered elsewhere; these routes
// never shadow it (exact paths and the /assets/ prefix only).
#pragma once

#include <span>

#include "dashboard/embedded_assets.h"
#include "http/router.h"

namespace pgdc {

// Registers the embedded dashboard of this build.
void add_dashboard_routes(Router& router);

// Registers the given files instead (tests). The assets must outlive the
// router; one of them must be "/index.html" for "/" to be served.
void add_dashboard_routes(Router& router, std::span<const dashboard::EmbeddedAsset> assets);

}  // namespace pgdc
