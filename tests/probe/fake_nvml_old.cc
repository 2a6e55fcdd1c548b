// A libnvidia-ml too old for the probe: it lacks the _v2 entry points (only nvmlInit), so the
// probe must report driver_mismatch rather than "no GPU".
extern "C" {
__attribute__((visibility("default"))) int nvmlInit() {
  return 0;
}
__attribute__((visibility("default"))) int nvmlShutdown() {
  return 0;
}
}
