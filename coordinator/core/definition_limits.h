// How large a definition document may be (DefinitionLimits): a plain struct, apart from the
// parser, so that the options that carry it compile no JSON library.
#pragma once

#include <cstddef>

namespace skald::core {

// Limits on a definition document, checked while parsing.
struct DefinitionLimits {
  size_t max_document_bytes = 1 << 20;
  size_t max_steps = 100;
  size_t max_name_length = 128;
  // Objects and arrays inside one another, the document itself counting as 1. Copying,
  // walking and printing a JSON value recurses once per level, so a deeper document (a few
  // hundred KB of "[[[[...") would overflow the stack of whichever thread touches it.
  size_t max_nesting_depth = 64;
};

}  // namespace skald::core
