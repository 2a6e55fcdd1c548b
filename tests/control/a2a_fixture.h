// The A2A route tests' fixture: a control plane with a small inbox cap, and claim helpers.
#pragma once

#include <string>
#include <vector>

#include "fixture.h"

namespace populi::control::testing {

class A2ATest : public ApiFixture {
 protected:
  ControlOptions Options() override {
    ControlOptions o = ApiFixture::Options();
    o.inbox_cap = 5;
    return o;
  }
  Reply Claim(const std::string& receiver, const std::string& claimer, int max = 1) {
    return Post("/v1/populi/a2a/inbox",
                boost::json::object{
                    {"receiver", receiver}, {"claimer_node_id", claimer}, {"max_messages", max}});
  }
  // The claim_token a claim's reply carries (the same on every message of one claim).
  static std::string TokenOf(const Reply& r) {
    const auto& messages = r.obj().at("messages").as_array();
    return messages.empty() ? std::string()
                            : std::string(messages[0].at("claim_token").as_string());
  }
  std::vector<int64_t> Ids(const Reply& r) {
    std::vector<int64_t> ids;
    for (const auto& m : r.obj().at("messages").as_array()) ids.push_back(m.at("id").as_int64());
    return ids;
  }
};

}  // namespace populi::control::testing
