// Response helpers declared in http.h: the one error body and the code → status mapping.
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "control/http/http.h"

namespace populi::http {

int HttpStatusFor(Code code) {
  switch (code) {
    case Code::kOk:
      return 200;
    case Code::kInvalidArgument:
      return 400;
    case Code::kUnauthenticated:
      return 401;
    case Code::kPermissionDenied:
      return 403;
    case Code::kNotFound:
      return 404;
    case Code::kConflict:
    case Code::kAlreadyExists:
    case Code::kFailedPrecondition:
      return 409;
    case Code::kGone:
      return 410;
    case Code::kTooLarge:
      return 413;
    case Code::kResourceExhausted:
      return 429;
    case Code::kInternal:
      return 500;
    case Code::kUnavailable:
    case Code::kStoreIo:
      return 503;
    case Code::kTimeout:
      return 504;
    case Code::kStoreFull:
      return 507;
  }
  return 500;
}

Response ErrorResponse(const Status& status, std::string_view request_id) {
  // An ok Status is a caller bug; answer 500 rather than an error body with code "ok".
  Code code = status.ok() ? Code::kInternal : status.code();
  boost::json::object error;
  error["code"] = CodeName(code);
  error["message"] =
      status.ok() ? std::string("error response built from an ok status") : status.message();
  error["hint"] = status.hint();
  error["request_id"] = request_id;
  boost::json::object root;
  root["error"] = std::move(error);
  Response response;
  response.status = HttpStatusFor(code);
  response.body = boost::json::serialize(root);
  return response;
}

Response JsonResponse(std::string body, int status) {
  Response response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

Completion::Completion() = default;
Completion::~Completion() = default;

void Completion::Complete(Response response) {
  std::function<void(Response)> resume;
  {
    std::lock_guard lock(mu_);
    if (completed_) return;
    completed_ = true;
    if (!resume_) {
      result_ = std::make_unique<Response>(std::move(response));
      return;
    }
    resume = std::move(resume_);
  }
  resume(std::move(response));
}

void Completion::OnComplete(std::function<void(Response)> resume) {
  std::unique_ptr<Response> ready;
  {
    std::lock_guard lock(mu_);
    if (!completed_) {
      resume_ = std::move(resume);
      return;
    }
    ready = std::move(result_);
  }
  if (ready) resume(std::move(*ready));
}

Response ContinueOnPool(std::function<Response(Request&)> rest) {
  Response r;
  r.on_pool = std::move(rest);
  return r;
}

Response Deferred(std::shared_ptr<Completion> completion) {
  Response response;
  response.completion = std::move(completion);
  return response;
}

Response NoContent() {
  Response response;
  response.status = 204;
  response.content_type.clear();
  return response;
}

}  // namespace populi::http
