package webui

// CacheUsage returns the comparisons the pages keep and their estimated
// bytes (for tests).
func (p *Pages) CacheUsage() (int, int64) { return p.cache.usage() }
