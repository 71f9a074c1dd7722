package apikey

import (
	"strconv"
	"strings"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/errdefs"
)

// ParseDuration parses a key lifetime such as "12h", "90d" or "2w": a
// positive whole number and one unit, h (hours), d (days of 24 hours) or
// w (weeks). time.ParseDuration knows no days, and a lifetime in
// minutes or with fractions is more likely a mistake than a wish. It
// refuses zero, negatives and anything over MaxTTL (ten years).
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if len(s) < 2 {
		return 0, errdefs.Invalid("expires", "%q is not a lifetime such as 12h, 90d or 2w", s)
	}
	var unit time.Duration
	switch s[len(s)-1] {
	case 'h':
		unit = time.Hour
	case 'd':
		unit = 24 * time.Hour
	case 'w':
		unit = 7 * 24 * time.Hour
	default:
		return 0, errdefs.Invalid("expires", "%q is not a lifetime such as 12h, 90d or 2w", s)
	}
	digits := s[:len(s)-1]
	// Only digits: ParseInt would also take a sign.
	if strings.TrimLeft(digits, "0123456789") != "" {
		return 0, errdefs.Invalid("expires", "%q is not a lifetime such as 12h, 90d or 2w", s)
	}
	// Only digits remain, so the one error ParseInt can report is
	// ErrRange: a count too large for int64, certainly over ten years.
	n, err := strconv.ParseInt(digits, 10, 64)
	// Compare before multiplying, so a huge count cannot overflow into
	// something that looks reasonable.
	if err != nil || n > int64(MaxTTL/unit) {
		return 0, errdefs.Invalid("expires", "%q is longer than ten years", s)
	}
	if n == 0 {
		return 0, errdefs.Invalid("expires", "must be longer than zero; leave it out for a key that never expires")
	}
	return time.Duration(n) * unit, nil
}
