// The text view of one trace (`vox populi trace` on a terminal): spans in tree order, one line
// each with where it ran, its name indented under its parent, its start offset from the trace's
// first span, its duration, and a bar placing it on the trace's timeline.
#pragma once

#include <string>
#include <vector>

#include "obs/span.h"

namespace populi::cli {

// `spans` of one trace, any order. A span whose parent is not among them is shown as a root.
// `bar_width` columns for the timeline bar.
std::string RenderTraceWaterfall(const std::vector<obs::Span>& spans, size_t bar_width = 40);

}  // namespace populi::cli
