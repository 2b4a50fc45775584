#pragma once

#include <string_view>
#include <vector>

// The dashboard's files (web/), compiled into the binary by cmake/EmbedWebAssets.cmake.
namespace skald::http {

struct WebAsset {
  // Relative to web/, e.g. "index.html", "saga.js".
  std::string_view path;
  std::string_view content;
};

// Returns every file under web/ when the binary was built, by path.
const std::vector<WebAsset>& EmbeddedWebAssets();

// Returns the asset at `path` (relative to web/), or nullptr.
const WebAsset* FindWebAsset(std::string_view path);

// Returns the Content-Type for a file by its extension ("application/octet-stream" for one
// not known).
std::string_view ContentTypeFor(std::string_view path);

}  // namespace skald::http
