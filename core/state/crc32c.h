// CRC-32C (Castagnoli, the polynomial iSCSI, ext4 and Btrfs use for their
// own checksums), bit-reflected, initial value and final XOR 0xFFFFFFFF.
//
// Detects torn and hand-edited state files (state_file_format.h). It is not a
// defence against deliberate tampering: whoever can write state_dir can write
// a matching checksum.
#pragma once

#include <cstdint>
#include <string_view>

namespace pgdc::state {

// crc32c("123456789") == 0xE3069283 (the standard check value).
std::uint32_t crc32c(std::string_view data);

// Continues a checksum over more data: crc32c_extend(crc32c(a), b) ==
// crc32c(a + b).
std::uint32_t crc32c_extend(std::uint32_t crc, std::string_view data);

}  // namespace pgdc::state
