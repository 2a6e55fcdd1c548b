// Placeholder so the module library is never empty; removed once the module has sources.
