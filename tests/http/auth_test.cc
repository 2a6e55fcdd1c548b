// Authenticator, JWT and JtiStore units, and the rate limiter.
#include "control/http/auth.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "control/http/rate_limit.h"

namespace populi::http {
namespace {

constexpr char kAdminSecret[] = "admin-secret-0123456789abcdef";
constexpr char kReaderSecret[] = "reader-secret-0123456789abcdef";
constexpr char kJwtSecret[] = "jwt-secret-0123456789abcdef0123456789";

std::unique_ptr<Authenticator> Make(ManualClock& clock, JtiStore* store) {
  AuthConfig config;
  config.tokens = {{"admin", Role::kAdmin, kAdminSecret}, {"ci", Role::kReadOnly, kReaderSecret}};
  config.jwt_secret = kJwtSecret;
  config.jti_store = store;
  config.clock = &clock;
  auto auth = Authenticator::Create(std::move(config));
  EXPECT_TRUE(auth.ok()) << auth.status().ToString();
  return std::move(auth).value();
}

TEST(Authenticator, StaticTokensMapToRolesAndLabels) {
  ManualClock clock;
  InMemoryJtiStore store(clock);
  auto auth = Make(clock, &store);
  auto admin = auth->Authenticate(BearerHeaderValue(kAdminSecret));
  ASSERT_TRUE(admin.ok());
  EXPECT_EQ(admin->role, Role::kAdmin);
  EXPECT_EQ(admin->token_label, "admin");
  EXPECT_FALSE(admin->anonymous);
  auto reader = auth->Authenticate(BearerHeaderValue(kReaderSecret));
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ(reader->role, Role::kReadOnly);
}

TEST(Authenticator, ForgedShortPrefixAndEmptyTokensAreRejectedWithoutEcho) {
  ManualClock clock;
  InMemoryJtiStore store(clock);
  auto auth = Make(clock, &store);
  std::string almost = kAdminSecret;
  almost.back() = 'X';
  for (std::string header :
       {BearerHeaderValue(almost), BearerHeaderValue("a"),
        BearerHeaderValue(std::string(kAdminSecret) + "x"),
        BearerHeaderValue(std::string(kAdminSecret).substr(0, 10)), std::string("Basic abc"),
        std::string("Bearer "), std::string(kAdminSecret)}) {
    auto result = auth->Authenticate(header);
    ASSERT_FALSE(result.ok()) << header;
    EXPECT_EQ(result.status().code(), Code::kUnauthenticated);
    EXPECT_EQ(result.status().hint(), kUnauthenticatedHint);
    EXPECT_EQ(result.status().ToString().find(kAdminSecret), std::string::npos);
    EXPECT_EQ(result.status().ToString().find(almost), std::string::npos);
  }
}

TEST(Authenticator, AnonymousIsAdminOnlyWhenOpen) {
  auto open = Authenticator::Open();
  EXPECT_TRUE(open->open());
  auto anon = open->Authenticate("");
  ASSERT_TRUE(anon.ok());
  EXPECT_EQ(anon->role, Role::kAdmin);
  EXPECT_TRUE(open->Authorize(*anon, {Role::kWorker}, "x").ok());

  ManualClock clock;
  InMemoryJtiStore store(clock);
  auto closed = Make(clock, &store);
  auto nobody = closed->Authenticate("");
  ASSERT_TRUE(nobody.ok());
  EXPECT_TRUE(closed->Authorize(*nobody, {}, "health").ok());
  Status denied = closed->Authorize(*nobody, {Role::kReadOnly}, "items.get");
  EXPECT_EQ(denied.code(), Code::kUnauthenticated);
}

TEST(Authenticator, ForbiddenNamesTheNeededRole) {
  ManualClock clock;
  InMemoryJtiStore store(clock);
  auto auth = Make(clock, &store);
  auto reader = auth->Authenticate(BearerHeaderValue(kReaderSecret));
  Status denied = auth->Authorize(*reader, {Role::kWorker, Role::kMesh}, "nodes.heartbeat");
  EXPECT_EQ(denied.code(), Code::kPermissionDenied);
  EXPECT_NE(denied.message().find("worker, mesh"), std::string::npos) << denied.message();
  EXPECT_NE(denied.message().find("nodes.heartbeat"), std::string::npos);
}

TEST(Authenticator, ConfigValidation) {
  AuthConfig short_token;
  short_token.tokens = {{"a", Role::kAdmin, "short"}};
  EXPECT_EQ(Authenticator::Create(short_token).status().code(), Code::kInvalidArgument);
  AuthConfig duplicate;
  duplicate.tokens = {{"a", Role::kAdmin, kAdminSecret}, {"a", Role::kWorker, kReaderSecret}};
  EXPECT_EQ(Authenticator::Create(duplicate).status().code(), Code::kInvalidArgument);
  AuthConfig same_secret;
  same_secret.tokens = {{"a", Role::kAdmin, kAdminSecret}, {"b", Role::kWorker, kAdminSecret}};
  auto result = Authenticator::Create(same_secret);
  EXPECT_EQ(result.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(result.status().ToString().find(kAdminSecret), std::string::npos);
  AuthConfig jwt_without_store;
  jwt_without_store.jwt_secret = kJwtSecret;
  EXPECT_EQ(Authenticator::Create(jwt_without_store).status().code(), Code::kInvalidArgument);
  AuthConfig weak_jwt;
  weak_jwt.jwt_secret = "too-short";
  EXPECT_EQ(Authenticator::Create(weak_jwt).status().code(), Code::kInvalidArgument);
}

TEST(Jwt, ValidExpiredReplayedAndForged) {
  ManualClock clock(1'700'000'000'000);
  InMemoryJtiStore store(clock);
  auto auth = Make(clock, &store);
  const int64_t now_s = clock.NowMs() / 1000;

  auto valid =
      auth->Authenticate(BearerHeaderValue(MintJwt(kJwtSecret, Role::kWorker, now_s + 30, "j1")));
  ASSERT_TRUE(valid.ok()) << valid.status().ToString();
  EXPECT_EQ(valid->role, Role::kWorker);
  EXPECT_EQ(valid->token_label, "jwt:j1");

  auto replayed =
      auth->Authenticate(BearerHeaderValue(MintJwt(kJwtSecret, Role::kWorker, now_s + 30, "j1")));
  ASSERT_FALSE(replayed.ok());
  EXPECT_NE(replayed.status().message().find("already used"), std::string::npos);

  // Within the 60 s leeway an expired token still passes; beyond it, not.
  EXPECT_TRUE(
      auth->Authenticate(BearerHeaderValue(MintJwt(kJwtSecret, Role::kWorker, now_s - 50, "j2")))
          .ok());
  auto expired =
      auth->Authenticate(BearerHeaderValue(MintJwt(kJwtSecret, Role::kWorker, now_s - 61, "j3")));
  ASSERT_FALSE(expired.ok());
  EXPECT_NE(expired.status().message().find("expired"), std::string::npos);

  auto forged = auth->Authenticate(BearerHeaderValue(
      MintJwt("another-secret-0123456789abcdef01234", Role::kAdmin, now_s + 30, "j4")));
  ASSERT_FALSE(forged.ok());
  EXPECT_NE(forged.status().message().find("signature"), std::string::npos);

  // Tampered claims with the original signature.
  std::string token = MintJwt(kJwtSecret, Role::kReadOnly, now_s + 30, "j5");
  std::string admin_token = MintJwt(kJwtSecret, Role::kAdmin, now_s + 30, "j5");
  std::string spliced =
      admin_token.substr(0, admin_token.rfind('.')) + token.substr(token.rfind('.'));
  EXPECT_FALSE(auth->Authenticate(BearerHeaderValue(spliced)).ok());
  EXPECT_FALSE(auth->Authenticate(BearerHeaderValue("a.b.c")).ok());
}

TEST(JwtClaims, RoundTripAndStrictReading) {
  const JwtClaims claims{Role::kSubmitter, 1'700'000'030, "j-1"};
  auto back = JwtClaimsFromJson(boost::json::parse(boost::json::serialize(ToJson(claims))));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->role, Role::kSubmitter);
  EXPECT_EQ(back->exp_unix_s, 1'700'000'030);
  EXPECT_EQ(back->jti, "j-1");

  auto extra = JwtClaimsFromJson(boost::json::parse(
      R"({"role":"worker","exp":5,"jti":"j","iss":"ci","aud":["mesh"],"nbf":1})"));
  ASSERT_TRUE(extra.ok()) << extra.status().ToString();
  EXPECT_EQ(extra->role, Role::kWorker);

  auto string_exp =
      JwtClaimsFromJson(boost::json::parse(R"({"role":"worker","exp":"5","jti":"j"})"));
  ASSERT_FALSE(string_exp.ok());
  EXPECT_EQ(string_exp.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(string_exp.status().message().rfind("exp: expected an integer", 0), 0u)
      << string_exp.status().message();
  auto huge_exp = JwtClaimsFromJson(
      boost::json::parse(R"({"role":"worker","exp":9223372036854775807,"jti":"j"})"));
  ASSERT_FALSE(huge_exp.ok());
  EXPECT_EQ(huge_exp.status().message().rfind("exp: number out of range", 0), 0u);
  auto role = JwtClaimsFromJson(boost::json::parse(R"({"role":"root","exp":5,"jti":"j"})"));
  ASSERT_FALSE(role.ok());
  EXPECT_EQ(role.status().message().rfind("role: unknown role", 0), 0u) << role.status().message();
  auto missing = JwtClaimsFromJson(boost::json::parse(R"({"role":"worker","exp":5})"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(), "jti: required field is missing");
  EXPECT_FALSE(missing.status().hint().empty());
}

TEST(Jwt, MalformedClaimsAreRefusedNamingTheClaim) {
  ManualClock clock(1'700'000'000'000);
  InMemoryJtiStore store(clock);
  auto auth = Make(clock, &store);
  const int64_t exp = clock.NowMs() / 1000 + 30;
  auto numeric_jti = auth->Authenticate(
      BearerHeaderValue(SignJwt(kJwtSecret, {{"role", "worker"}, {"exp", exp}, {"jti", 7}})));
  ASSERT_FALSE(numeric_jti.ok());
  EXPECT_EQ(numeric_jti.status().code(), Code::kUnauthenticated);
  EXPECT_NE(numeric_jti.status().message().find("jti: expected a string"), std::string::npos)
      << numeric_jti.status().message();
  auto float_exp = auth->Authenticate(
      BearerHeaderValue(SignJwt(kJwtSecret, {{"role", "worker"}, {"exp", 1.5e9}, {"jti", "f"}})));
  ASSERT_FALSE(float_exp.ok());
  EXPECT_NE(float_exp.status().message().find("exp: expected an integer"), std::string::npos);
  // Claims this mesh does not use are ignored.
  auto extra = auth->Authenticate(BearerHeaderValue(
      SignJwt(kJwtSecret, {{"role", "worker"}, {"exp", exp}, {"jti", "x"}, {"sub", "ci"}})));
  ASSERT_TRUE(extra.ok()) << extra.status().ToString();
  EXPECT_EQ(extra->token_label, "jwt:x");
  EXPECT_EQ(store.size(), 1u);  // refused tokens never reached the replay store
}

// Only a JWT consults the replay store (a durable write in the server), so only a JWT is sent off
// the I/O thread to be checked; static tokens and missing credentials are checked in place.
TEST(Jwt, OnlyAJwtMayWaitOnTheReplayStore) {
  ManualClock clock(1'700'000'000'000);
  InMemoryJtiStore store(clock);
  auto auth = Make(clock, &store);
  const std::string jwt =
      BearerHeaderValue(MintJwt(kJwtSecret, Role::kWorker, clock.NowMs() / 1000 + 30, "w1"));
  EXPECT_TRUE(auth->MayWaitOnReplayStore(jwt));
  EXPECT_FALSE(auth->MayWaitOnReplayStore(BearerHeaderValue(kAdminSecret)));
  EXPECT_FALSE(auth->MayWaitOnReplayStore(""));
  AuthConfig tokens_only;
  tokens_only.tokens = {{"admin", Role::kAdmin, kAdminSecret}};
  auto plain = Authenticator::Create(std::move(tokens_only));
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE((*plain)->MayWaitOnReplayStore(jwt));
}

TEST(InMemoryJtiStore, NeverForgetsUnexpiredEntriesWhenFull) {
  ManualClock clock(1'000'000);
  InMemoryJtiStore store(clock, /*capacity=*/2);
  EXPECT_TRUE(*store.InsertIfAbsent("a", 1'000'500));
  EXPECT_TRUE(*store.InsertIfAbsent("b", 2'000'000));
  // Full, nothing expired: refuse, keep both.
  auto refused = store.InsertIfAbsent("c", 2'000'000);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kResourceExhausted);
  EXPECT_FALSE(*store.InsertIfAbsent("a", 1'000'500));
  EXPECT_FALSE(*store.InsertIfAbsent("b", 2'000'000));
  // "a" expires: only it makes room.
  clock.Advance(1'000);
  EXPECT_TRUE(*store.InsertIfAbsent("c", 2'000'000));
  EXPECT_FALSE(*store.InsertIfAbsent("b", 2'000'000));
  EXPECT_EQ(store.size(), 2u);
}

TEST(RateLimiter, BurstThenRefillAndPerKey) {
  RateLimiter limiter(10, 3);
  EXPECT_FALSE(limiter.Acquire("k", 0));
  EXPECT_FALSE(limiter.Acquire("k", 0));
  EXPECT_FALSE(limiter.Acquire("k", 0));
  auto wait = limiter.Acquire("k", 0);
  ASSERT_TRUE(wait.has_value());
  EXPECT_EQ(*wait, 100);  // one token per 100 ms at 10/s
  EXPECT_FALSE(limiter.Acquire("other", 0));
  EXPECT_FALSE(limiter.Acquire("k", 100));
  EXPECT_TRUE(limiter.Acquire("k", 100).has_value());
  RateLimiter off(0, 0);
  for (int i = 0; i < 1000; ++i) EXPECT_FALSE(off.Acquire("k", 0));
}

}  // namespace
}  // namespace populi::http
