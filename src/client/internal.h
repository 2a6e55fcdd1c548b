// Helpers shared by the client's TUs; not part of the public interface.
#pragma once

#include <string>
#include <string_view>

#include "client/http_client.h"

namespace populi::client::internal {

void EnsureCurlInitialized();
// Appends "name: value" (name lower-cased) to headers; a status line clears them.
void ParseHeaderLine(std::string_view line, HeaderList* headers);
// The Status for a failed libcurl transfer (CURLcode as int), naming the control plane URL.
Status TransportError(int curl_code, const std::string& url, const char* detail);

}  // namespace populi::client::internal
