// How much the logger says, and how. Kept apart from the logger itself so the
// config can name them without depending on the logger's internals.
#pragma once

namespace pgdc {

enum class LogLevel { kDebug, kInfo, kWarn, kError };
enum class LogFormat { kText, kJson };

}  // namespace pgdc
