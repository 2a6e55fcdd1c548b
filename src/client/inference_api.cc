// ControlPlaneApi: the inference relay an agent runs front-door requests through.
#include "client/api_call.h"
#include "client/control_plane_api.h"
#include "mesh/inference_json.h"

namespace populi::client {

Result<std::optional<mesh::InferenceJob>> ControlPlaneApi::NextInferenceJob(
    const std::string& node_id, int64_t wait_ms, CallOptions options) {
  const std::string path = "/v1/populi/inference/nodes/" + internal::Escape(node_id) +
                           "/next?wait_ms=" + std::to_string(wait_ms);
  POPULI_ASSIGN_OR_RETURN(ClientResponse response,
                          http_->Send("GET", path, {}, {}, Timeout(options, wait_ms, 5'000)));
  if (response.status == 204) return std::optional<mesh::InferenceJob>();
  POPULI_ASSIGN_OR_RETURN(
      auto job, internal::DecodeReply<mesh::InferenceJob>(
                    response.body, http_->base_url(), "GET " + path, mesh::InferenceJobFromJson));
  return std::optional<mesh::InferenceJob>(std::move(job));
}

Result<mesh::InferenceChunkReply> ControlPlaneApi::PostInferenceChunk(
    const mesh::InferenceChunk& chunk, CallOptions options) {
  return internal::Call<mesh::InferenceChunkReply>(
      *http_, "POST", "/v1/populi/inference/jobs/" + internal::Escape(chunk.job_id) + "/chunks",
      mesh::Serialize(mesh::ToJson(chunk)), Timeout(options), mesh::InferenceChunkReplyFromJson);
}

Result<mesh::InferenceChunkReply> ControlPlaneApi::WaitInferenceCancel(const std::string& job_id,
                                                                       int64_t wait_ms,
                                                                       CallOptions options) {
  return internal::Call<mesh::InferenceChunkReply>(
      *http_, "GET",
      "/v1/populi/inference/jobs/" + internal::Escape(job_id) +
          "/cancel?wait_ms=" + std::to_string(wait_ms),
      {}, Timeout(options, wait_ms, 5'000), mesh::InferenceChunkReplyFromJson);
}

Result<mesh::InferenceExplanation> ControlPlaneApi::ExplainInference(const std::string& request_id,
                                                                     CallOptions options) {
  return internal::Call<mesh::InferenceExplanation>(
      *http_, "GET", "/v1/populi/inference/requests/" + internal::Escape(request_id), {},
      Timeout(options), mesh::InferenceExplanationFromJson);
}

}  // namespace populi::client
