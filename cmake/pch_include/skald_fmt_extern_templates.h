// Part of the shell's precompiled header (cmake/SkaldPrecompiledHeaders.cmake), after spdlog.
//
// Every spdlog call formats through fmt::detail::vformat_to<char>. fmt 9's <fmt/format.h>
// defines that template, so each translation unit that logs instantiated it again, with all
// the integer and floating-point writers it drags in (a third of engine.cc's object code and
// of its compile time). Debian's libfmt.so.9 -- which every target using spdlog already links
// -- exports exactly this instantiation: declaring it extern makes each file call the
// library's copy instead of compiling its own. fmt 10 makes the same declaration itself.
#pragma once

#include <fmt/format.h>

FMT_BEGIN_NAMESPACE
namespace detail {
extern template FMT_API void vformat_to<char>(buffer<char>&, basic_string_view<char>,
                                              basic_format_args<FMT_BUFFER_CONTEXT(char)>,
                                              locale_ref);
}  // namespace detail
FMT_END_NAMESPACE
