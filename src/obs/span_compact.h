// The compact form of a retained span: every field of an obs::Span encoded into bytes appended to
// one buffer, so a stored span costs no allocation of its own (the store keeps one buffer per
// trace) and is expanded back into a Span only when read.
//
// Layout of one span (integers little-endian as the host writes them; the form never leaves the
// process, so it is not a wire format and may change with the code):
//   u32 length of the rest | trace_id 16 | span_id 8 | parent_span_id 8 | start i64 | end i64 |
//   dropped_attributes u32 | kind u8 | error u8 | name, status_message, service, node_id (each a
//   varint length and its bytes) | varint attribute count | per attribute: key (its interned
//   address, 8 bytes, and a varint length), a type byte (the AttributeValue index), the value
//   (string: varint length and bytes; int64 and double: 8 bytes; bool: 1 byte).
// Attribute keys are stored by address, not copied: Span's contract is that keys are interned
// (InternAttributeKey), alive for the life of the process.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "obs/span.h"
#include "util/status.h"

namespace populi::obs {

// The number of bytes AppendCompactSpan(span, …) appends.
size_t CompactSpanSize(const Span& span);

// Appends the compact form of `span` to `out`; `out`'s earlier bytes are left as they are.
void AppendCompactSpan(const Span& span, std::string& out);

// Appends to `out` every span encoded in `bytes` (a concatenation of AppendCompactSpan outputs),
// in the order they were appended. kInternal when `bytes` is not such a concatenation; the spans
// decoded before the bad one are kept in `out`.
Status ExpandCompactSpans(std::string_view bytes, std::vector<Span>& out);

}  // namespace populi::obs
