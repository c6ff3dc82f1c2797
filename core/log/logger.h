// Process-wide logger: one line per event on stderr, human text or JSON lines.
//
// Thread-safe. Messages are single lines (newlines are escaped). Callers must
// never pass secrets; redact() helps for values that may hold one.
#pragma once

#include <string>
#include <string_view>

#include "log/log_level.h"

namespace pgdc::log {

void configure(LogLevel level, LogFormat format);
bool enabled(LogLevel level);

// component: short origin such as "core", "http", "plugin:kubernetes".
void write(LogLevel level, std::string_view component, std::string_view message);

inline void debug(std::string_view c, std::string_view m) { write(LogLevel::kDebug, c, m); }
inline void info(std::string_view c, std::string_view m) { write(LogLevel::kInfo, c, m); }
inline void warn(std::string_view c, std::string_view m) { write(LogLevel::kWarn, c, m); }
inline void error(std::string_view c, std::string_view m) { write(LogLevel::kError, c, m); }

// "abcd…(32 chars)" style placeholder: shows that a value was set without
// revealing it.
std::string redact(std::string_view secret);

std::string_view level_name(LogLevel level);

}  // namespace pgdc::log
