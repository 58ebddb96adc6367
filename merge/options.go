package merge

import (
	"fmt"
	"math"
	"sort"
	"strconv"
)

// Strategy names accepted in Options.Strategy.
const (
	FedAvg        = "fedavg"
	Median        = "median"
	TrimmedMean   = "trimmed-mean"
	Krum          = "krum"
	MultiKrum     = "multi-krum"
	Bulyan        = "bulyan"
	FedAvgM       = "fedavgm"
	FedAdam       = "fedadam"
	FedYogi       = "fedyogi"
	FedAdagrad    = "fedadagrad"
	Linear        = "linear"
	TaskArith     = "task-arithmetic"
	Ties          = "ties"
	DareLinear    = "dare-linear"
	DareTies      = "dare-ties"
	Slerp         = "slerp"
	ModelStock    = "model-stock"
	DefaultMethod = FedAvg
)

// Strategies lists every strategy name in a fixed order.
func Strategies() []string {
	return []string{FedAvg, Median, TrimmedMean, Krum, MultiKrum, Bulyan,
		FedAvgM, FedAdam, FedYogi, FedAdagrad,
		Linear, TaskArith, Ties, DareLinear, DareTies, Slerp, ModelStock}
}

// NeedsBase reports whether strategy needs the merge base θ₀.
func NeedsBase(strategy string) bool {
	switch strategy {
	case TaskArith, Ties, DareLinear, DareTies, ModelStock, FedAvgM, FedAdam, FedYogi, FedAdagrad:
		return true
	}
	return false
}

// MaxFixedWeight bounds each integer weight of the fixed-point (exact) mode,
// so that every product w·q fits in an int64.
const MaxFixedWeight = 1<<32 - 1

// Options selects a strategy and its knobs. Validate fills the defaults.
type Options struct {
	// Strategy is one of Strategies(); "" means fedavg.
	Strategy string
	// Weights holds one non-negative weight per side (e.g. its sample
	// count); nil means equal weights. They are normalised by their sum.
	Weights []float64
	// Params holds the strategy's parameters as text, e.g. "f": "1".
	// After Validate it holds every parameter with its effective value
	// (defaults filled in), in canonical form, ready to be recorded.
	Params map[string]string
	// HasBase says the caller supplies a merge base θ₀ for every tensor.
	HasBase bool
	// Workers bounds the goroutines used per piece; 0 means GOMAXPROCS.
	// The result never depends on it.
	Workers int
}

// config is the parsed form of Options.
type config struct {
	strategy string
	weights  []float64 // raw, validated
	p        []float64 // normalised weights
	exact    bool
	fixedW   []uint64 // integer weights of the exact mode
	beta     float64
	f, m     int
	lr, mu   float64
	eta      float64
	beta1    float64
	beta2    float64
	tau      float64
	lambda   float64
	density  float64
	seed     uint64
	t        float64
	workers  int
}

// Validate checks o for a merge of the given number of sides and fills in
// defaults (Strategy, Weights, Params). It returns a *ParamError,
// *WeightError or *SidesError, or an error matching ErrUnknownStrategy or
// ErrNeedsBase; all of them match ErrInvalidOptions.
func (o *Options) Validate(sides int) error {
	c, err := o.parse(sides)
	if err != nil {
		return err
	}
	o.Strategy = c.strategy
	o.Weights = c.weights
	o.Params = c.params()
	return nil
}

func (o *Options) parse(sides int) (*config, error) {
	c := &config{strategy: o.Strategy, workers: o.Workers}
	if c.strategy == "" {
		c.strategy = DefaultMethod
	}
	known := false
	for _, s := range Strategies() {
		if s == c.strategy {
			known = true
		}
	}
	if !known {
		return nil, fmt.Errorf("%w: %w %q", ErrInvalidOptions, ErrUnknownStrategy, c.strategy)
	}
	if o.Workers < 0 {
		return nil, &ParamError{Strategy: c.strategy, Param: "workers", Msg: "must not be negative"}
	}
	if sides < 1 {
		return nil, &SidesError{Strategy: c.strategy, Sides: sides, Msg: "needs at least one side"}
	}
	if err := c.parseWeights(o.Weights, sides); err != nil {
		return nil, err
	}
	r := &paramReader{strategy: c.strategy, in: o.Params}
	c.readParams(r, sides)
	if r.err != nil {
		return nil, r.err
	}
	if err := r.finish(); err != nil {
		return nil, err
	}
	if err := c.checkSides(sides); err != nil {
		return nil, err
	}
	if c.exact {
		c.fixedW = make([]uint64, sides)
		for i, w := range c.weights {
			if w != math.Trunc(w) || w > MaxFixedWeight {
				return nil, &WeightError{Index: i, Msg: fmt.Sprintf("exact mode needs integer weights in [0, %d], got %v", uint64(MaxFixedWeight), w)}
			}
			c.fixedW[i] = uint64(w)
		}
	}
	if NeedsBase(c.strategy) && !o.HasBase {
		return nil, fmt.Errorf("%w: %w: %s", ErrInvalidOptions, ErrNeedsBase, c.strategy)
	}
	return c, nil
}

func (c *config) parseWeights(w []float64, sides int) error {
	if w == nil {
		w = make([]float64, sides)
		for i := range w {
			w[i] = 1
		}
	}
	if len(w) != sides {
		return &WeightError{Index: -1, Msg: fmt.Sprintf("%d weights for %d sides", len(w), sides)}
	}
	sum := 0.0
	for i, x := range w {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return &WeightError{Index: i, Msg: "not finite"}
		}
		if x < 0 {
			return &WeightError{Index: i, Msg: fmt.Sprintf("negative (%v)", x)}
		}
		sum += x
	}
	if sum == 0 {
		return &WeightError{Index: -1, Msg: "all zero"}
	}
	if math.IsInf(sum, 0) {
		return &WeightError{Index: -1, Msg: "sum overflows"}
	}
	c.weights = append([]float64(nil), w...)
	c.p = normalise(c.weights)
	return nil
}

// normalise returns w_k / Σw (sum in side order, one division per weight).
func normalise(w []float64) []float64 {
	sum := 0.0
	for _, x := range w {
		sum += x
	}
	p := make([]float64, len(w))
	for i, x := range w {
		p[i] = x / sum
	}
	return p
}

func (c *config) readParams(r *paramReader, sides int) {
	positive := func(x float64) bool { return x > 0 && !math.IsInf(x, 0) }
	unit := func(x float64) bool { return x >= 0 && x < 1 }
	finite := func(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
	switch c.strategy {
	case FedAvg:
		c.exact = r.boolean("exact", false)
	case TrimmedMean:
		c.beta = r.float("beta", 0.2, func(x float64) bool { return x >= 0 && x < 0.5 }, "in [0, 0.5)")
	case Krum:
		c.f = r.integer("f", 0, 0)
		c.m = 1
	case MultiKrum:
		c.f = r.integer("f", 0, 0)
		def := sides - c.f
		if def < 1 {
			def = 1
		}
		c.m = r.integer("m", def, 1)
		if r.err == nil && c.m > sides {
			r.fail("m", fmt.Sprintf("%d exceeds the %d sides", c.m, sides))
		}
	case Bulyan:
		c.f = r.integer("f", 0, 0)
	case FedAvgM:
		c.lr = r.float("lr", 1, positive, "> 0")
		c.mu = r.float("mu", 0.9, unit, "in [0, 1)")
	case FedAdam, FedYogi:
		eta, tau := 0.1, 1e-9
		if c.strategy == FedYogi {
			eta, tau = 0.01, 1e-3
		}
		c.eta = r.float("eta", eta, positive, "> 0")
		c.beta1 = r.float("beta1", 0.9, unit, "in [0, 1)")
		c.beta2 = r.float("beta2", 0.99, unit, "in [0, 1)")
		c.tau = r.float("tau", tau, positive, "> 0")
	case FedAdagrad:
		c.eta = r.float("eta", 0.1, positive, "> 0")
		c.beta1 = r.float("beta1", 0, unit, "in [0, 1)")
		c.tau = r.float("tau", 1e-9, positive, "> 0")
	case TaskArith:
		c.lambda = r.float("lambda", 1, finite, "finite")
	case Ties:
		c.density = r.float("density", 0.2, func(x float64) bool { return x > 0 && x <= 1 }, "in (0, 1]")
		c.lambda = r.float("lambda", 1, finite, "finite")
	case DareLinear, DareTies:
		c.density = r.float("density", 0.5, func(x float64) bool { return x > 0 && x <= 1 }, "in (0, 1]")
		c.seed = r.uint("seed", 0)
		c.lambda = r.float("lambda", 1, finite, "finite")
	case Slerp:
		def := 0.5
		if len(c.p) == 2 {
			def = c.p[1]
		}
		c.t = r.float("t", def, func(x float64) bool { return x >= 0 && x <= 1 }, "in [0, 1]")
	}
}

func (c *config) checkSides(k int) error {
	bad := func(msg string) error { return &SidesError{Strategy: c.strategy, Sides: k, Msg: msg} }
	switch c.strategy {
	case Krum, MultiKrum:
		if k <= 2*c.f+2 {
			return bad(fmt.Sprintf("needs more than 2f+2 = %d sides", 2*c.f+2))
		}
	case Bulyan:
		if k < 4*c.f+3 {
			return bad(fmt.Sprintf("needs at least 4f+3 = %d sides", 4*c.f+3))
		}
	case Slerp:
		if k != 2 {
			return bad("needs exactly 2 sides")
		}
	case ModelStock:
		if k < 2 {
			return bad("needs at least 2 sides")
		}
	}
	return nil
}

// params returns the effective parameters in canonical text form.
func (c *config) params() map[string]string {
	m := map[string]string{}
	fl := func(name string, x float64) { m[name] = strconv.FormatFloat(x, 'g', -1, 64) }
	switch c.strategy {
	case FedAvg:
		m["exact"] = strconv.FormatBool(c.exact)
	case TrimmedMean:
		fl("beta", c.beta)
	case Krum, Bulyan:
		m["f"] = strconv.Itoa(c.f)
	case MultiKrum:
		m["f"] = strconv.Itoa(c.f)
		m["m"] = strconv.Itoa(c.m)
	case FedAvgM:
		fl("lr", c.lr)
		fl("mu", c.mu)
	case FedAdam, FedYogi:
		fl("eta", c.eta)
		fl("beta1", c.beta1)
		fl("beta2", c.beta2)
		fl("tau", c.tau)
	case FedAdagrad:
		fl("eta", c.eta)
		fl("beta1", c.beta1)
		fl("tau", c.tau)
	case TaskArith:
		fl("lambda", c.lambda)
	case Ties:
		fl("density", c.density)
		fl("lambda", c.lambda)
	case DareLinear, DareTies:
		fl("density", c.density)
		m["seed"] = strconv.FormatUint(c.seed, 10)
		fl("lambda", c.lambda)
	case Slerp:
		fl("t", c.t)
	}
	return m
}

// paramReader parses Params, remembering the first error and which
// parameters were consumed.
type paramReader struct {
	strategy string
	in       map[string]string
	used     map[string]bool
	err      error
}

func (r *paramReader) fail(name, msg string) {
	if r.err == nil {
		r.err = &ParamError{Strategy: r.strategy, Param: name, Msg: msg}
	}
}

func (r *paramReader) lookup(name string) (string, bool) {
	if r.used == nil {
		r.used = map[string]bool{}
	}
	r.used[name] = true
	s, ok := r.in[name]
	return s, ok
}

func (r *paramReader) float(name string, def float64, ok func(float64) bool, rng string) float64 {
	s, present := r.lookup(name)
	if !present {
		return def
	}
	x, err := strconv.ParseFloat(s, 64)
	if err != nil {
		r.fail(name, fmt.Sprintf("%q is not a number", s))
		return def
	}
	if !ok(x) {
		r.fail(name, fmt.Sprintf("%v out of range, want %s", x, rng))
	}
	return x
}

func (r *paramReader) integer(name string, def, min int) int {
	s, present := r.lookup(name)
	if !present {
		return def
	}
	x, err := strconv.Atoi(s)
	if err != nil {
		r.fail(name, fmt.Sprintf("%q is not an integer", s))
		return def
	}
	if x < min {
		r.fail(name, fmt.Sprintf("%d out of range, want >= %d", x, min))
	}
	return x
}

func (r *paramReader) uint(name string, def uint64) uint64 {
	s, present := r.lookup(name)
	if !present {
		return def
	}
	x, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		r.fail(name, fmt.Sprintf("%q is not an unsigned 64-bit integer", s))
		return def
	}
	return x
}

func (r *paramReader) boolean(name string, def bool) bool {
	s, present := r.lookup(name)
	if !present {
		return def
	}
	x, err := strconv.ParseBool(s)
	if err != nil {
		r.fail(name, fmt.Sprintf("%q is not a boolean", s))
		return def
	}
	return x
}

// finish reports the first (in sorted order) parameter nobody asked for.
func (r *paramReader) finish() error {
	var names []string
	for k := range r.in {
		if !r.used[k] {
			names = append(names, k)
		}
	}
	if len(names) == 0 {
		return nil
	}
	sort.Strings(names)
	return &ParamError{Strategy: r.strategy, Param: names[0], Msg: "unknown parameter"}
}
