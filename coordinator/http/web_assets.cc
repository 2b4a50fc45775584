#include "coordinator/http/web_assets.h"

#include <cctype>
#include <map>
#include <string>

namespace skald::http {

const WebAsset* FindWebAsset(std::string_view path) {
  static const std::map<std::string_view, const WebAsset*> by_path = [] {
    std::map<std::string_view, const WebAsset*> map;
    for (const WebAsset& asset : EmbeddedWebAssets()) map.emplace(asset.path, &asset);
    return map;
  }();
  auto it = by_path.find(path);
  return it == by_path.end() ? nullptr : it->second;
}

std::string_view ContentTypeFor(std::string_view path) {
  static const std::map<std::string, std::string_view, std::less<>> kTypes = {
      {"html", "text/html; charset=utf-8"},
      {"js", "text/javascript; charset=utf-8"},
      {"mjs", "text/javascript; charset=utf-8"},
      {"css", "text/css; charset=utf-8"},
      {"json", "application/json"},
      {"map", "application/json"},
      {"txt", "text/plain; charset=utf-8"},
      {"svg", "image/svg+xml"},
      {"png", "image/png"},
      {"jpg", "image/jpeg"},
      {"jpeg", "image/jpeg"},
      {"gif", "image/gif"},
      {"webp", "image/webp"},
      {"ico", "image/x-icon"},
      {"woff", "font/woff"},
      {"woff2", "font/woff2"},
  };
  const size_t dot = path.rfind('.');
  const size_t slash = path.rfind('/');
  if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash)) {
    return "application/octet-stream";
  }
  std::string extension(path.substr(dot + 1));
  for (char& c : extension) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto it = kTypes.find(extension);
  return it == kTypes.end() ? "application/octet-stream" : it->second;
}

}  // namespace skald::http
