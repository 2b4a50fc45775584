# Writes OUTPUT, a C++ source defining skald::http::EmbeddedWebAssets(): every file under
# WEB_DIR (the dashboard), by its path relative to WEB_DIR, as bytes. Hidden files and
# editor backups (*~) are left out.
if(EXISTS "${WEB_DIR}")
  file(GLOB_RECURSE files RELATIVE "${WEB_DIR}" "${WEB_DIR}/*")
else()
  set(files "")
endif()
list(SORT files)
set(arrays "")
set(entries "")
set(index 0)
foreach(file IN LISTS files)
  if(file MATCHES "(^|/)\\." OR file MATCHES "~$")
    continue()
  endif()
  if(NOT file MATCHES "^[A-Za-z0-9._/-]+$")
    message(FATAL_ERROR "web asset names may use only letters, digits and ._-/: ${file}")
  endif()
  file(READ "${WEB_DIR}/${file}" hex HEX)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  # A trailing zero keeps the array non-empty for an empty file; it is not part of the asset.
  string(APPEND arrays "const unsigned char kAsset${index}[] = {${bytes}0x00};\n")
  string(APPEND entries "      {\"${file}\", std::string_view(reinterpret_cast<const char*>(kAsset${index}), sizeof kAsset${index} - 1)},\n")
  math(EXPR index "${index} + 1")
endforeach()
file(WRITE "${OUTPUT}.tmp" "// Generated from web/ by cmake/EmbedWebAssets.cmake. Do not edit.
#include \"coordinator/http/web_assets.h\"

namespace skald::http {
namespace {

${arrays}
}  // namespace

const std::vector<WebAsset>& EmbeddedWebAssets() {
  static const std::vector<WebAsset> assets = {
${entries}  };
  return assets;
}

}  // namespace skald::http
")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
