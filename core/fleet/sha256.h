// SHA-256 (FIPS 180-4), computed by OpenSSL's libcrypto.
//
// Used to compare bearer tokens by digest in constant time and to name a token
// in logs by a short fingerprint instead of its value.
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

// True when the digests are equal; time independent of where they differ.
bool digest_equal(const Sha256Digest& a, const Sha256Digest& b);

}  // namespace pgdc::fleet
