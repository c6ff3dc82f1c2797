// SHA-256 (FIPS 180-4) and HMAC-SHA-256 (RFC 2104), computed by OpenSSL's
// libcrypto.
//
// Used to compare bearer tokens by digest in constant time, to name a token
// in logs by a short fingerprint instead of its value, and to sign the
// leader's proof of its address (api/leader_proof.h).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace pgdc::fleet {

using Sha256Digest = std::array<std::uint8_t, 32>;

Sha256Digest sha256(std::string_view data);

// Lower-case hex of the digest.
std::string sha256_hex(std::string_view data);
std::string to_hex(const Sha256Digest& digest);

Sha256Digest hmac_sha256(std::string_view key, std::string_view data);

// True when the digests are equal; time independent of where they differ.
bool digest_equal(const Sha256Digest& a, const Sha256Digest& b);

}  // namespace pgdc::fleet
