// The dashboard's files, embedded into the daemon at build time.
//
// The table is generated from the Vite build (dist/) by
// web/scripts/embed-assets.mjs into the build tree; nothing here is written
// by hand. Invariants the generator guarantees:
//  - paths start with '/' and are unique;
//  - etag is a strong, quoted ETag derived from the SHA-256 of data, so it
//    changes whenever the bytes do; etag_gzip is a different strong ETag for
//    the gzip representation (RFC 9110: one ETag per representation);
//  - gzip is null (gzip_size 0) when compressing would not save >= 10 %;
//  - immutable is true exactly for files under /assets/, whose names carry a
//    content hash (a changed file gets a new name, so caches may keep them).
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

namespace pgdc::dashboard {

struct EmbeddedAsset {
  const char* path;          // URL path, e.g. "/assets/index-3f2a1b.js"
  const char* content_type;  // e.g. "text/javascript; charset=utf-8"
  const char* etag;          // e.g. "\"v66xjGdU...\""
  const char* etag_gzip;     // or nullptr when there is no gzip variant
  const unsigned char* data;
  std::size_t size;
  const unsigned char* gzip;  // or nullptr
  std::size_t gzip_size;
  bool immutable;

  std::string_view bytes() const { return {reinterpret_cast<const char*>(data), size}; }
  std::string_view gzip_bytes() const {
    return gzip == nullptr ? std::string_view{}
                           : std::string_view{reinterpret_cast<const char*>(gzip), gzip_size};
  }
};

// The files of this build of the dashboard (index.html among them).
std::span<const EmbeddedAsset> embedded_assets();

}  // namespace pgdc::dashboard
