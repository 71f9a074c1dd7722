package cimd

import (
	"net/http"
	"testing"
	"time"
)

func TestLifetime(t *testing.T) {
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	p := ttlPolicy{min: time.Minute, def: 5 * time.Minute, max: 24 * time.Hour}
	tests := []struct {
		name   string
		header []string // name, value pairs
		policy *ttlPolicy
		want   time.Duration // 0: not stored
	}{
		{"no caching headers", nil, nil, 5 * time.Minute},
		{"max-age", []string{"Cache-Control", "max-age=600"}, nil, 10 * time.Minute},
		{"max-age among other directives", []string{"Cache-Control", "public, max-age=600, must-revalidate"}, nil, 10 * time.Minute},
		{"directive names ignore case", []string{"Cache-Control", "Public, MAX-AGE=600"}, nil, 10 * time.Minute},
		{"quoted max-age", []string{"Cache-Control", `max-age="600"`}, nil, 10 * time.Minute},
		{"first max-age counts", []string{"Cache-Control", "max-age=600", "Cache-Control", "max-age=60000"}, nil, 10 * time.Minute},
		{"max-age=0 raised to the minimum", []string{"Cache-Control", "max-age=0"}, nil, time.Minute},
		{"max-age below the minimum", []string{"Cache-Control", "max-age=10"}, nil, time.Minute},
		{"max-age above the maximum", []string{"Cache-Control", "max-age=172800"}, nil, 24 * time.Hour},
		{"huge max-age saturates", []string{"Cache-Control", "max-age=99999999999999999999"}, nil, 24 * time.Hour},
		{"invalid max-age is stale", []string{"Cache-Control", "max-age=ten"}, nil, time.Minute},
		{"negative max-age is stale", []string{"Cache-Control", "max-age=-5"}, nil, time.Minute},
		{"no-store", []string{"Cache-Control", "no-store"}, nil, 0},
		{"no-store wins over max-age", []string{"Cache-Control", "max-age=600, no-store"}, nil, 0},
		{"no-store in a second field line", []string{"Cache-Control", "max-age=600", "Cache-Control", "NO-STORE"}, nil, 0},
		{"no-cache", []string{"Cache-Control", "no-cache"}, nil, 0},
		{"qualified no-cache", []string{"Cache-Control", `no-cache="Set-Cookie", max-age=600`}, nil, 0},
		{"s-maxage is for shared caches", []string{"Cache-Control", "s-maxage=600"}, nil, 5 * time.Minute},
		{"private is fine for this cache", []string{"Cache-Control", "private, max-age=600"}, nil, 10 * time.Minute},
		{"Age counts against max-age", []string{"Cache-Control", "max-age=600", "Age", "240"}, nil, 6 * time.Minute},
		{"Age beyond max-age", []string{"Cache-Control", "max-age=600", "Age", "9000"}, nil, time.Minute},
		{"Age without freshness is ignored", []string{"Age", "240"}, nil, 5 * time.Minute},
		{"Expires relative to Date", []string{"Date", "Fri, 20 Nov 2026 11:00:00 GMT", "Expires", "Fri, 20 Nov 2026 13:00:00 GMT"}, nil, 2 * time.Hour},
		{"Expires without Date", []string{"Expires", "Fri, 20 Nov 2026 15:00:00 GMT"}, nil, 3 * time.Hour},
		{"Expires in the past", []string{"Expires", "Fri, 20 Nov 2026 11:00:00 GMT"}, nil, time.Minute},
		{"invalid Expires means expired", []string{"Expires", "0"}, nil, time.Minute},
		{"max-age wins over Expires", []string{"Cache-Control", "max-age=600", "Expires", "Fri, 20 Nov 2026 15:00:00 GMT"}, nil, 10 * time.Minute},
		{"no lower bound: max-age=0 not stored", []string{"Cache-Control", "max-age=0"}, &ttlPolicy{min: 0, def: time.Minute, max: time.Hour}, 0},
		{"no lower bound: max-age kept", []string{"Cache-Control", "max-age=30"}, &ttlPolicy{min: 0, def: time.Minute, max: time.Hour}, 30 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for i := 0; i+1 < len(tt.header); i += 2 {
				h.Add(tt.header[i], tt.header[i+1])
			}
			pol := p
			if tt.policy != nil {
				pol = *tt.policy
			}
			got, ok := pol.lifetime(h, now)
			if ok != (tt.want > 0) || got != tt.want {
				t.Errorf("lifetime = %v, %v; want %v, %v", got, ok, tt.want, tt.want > 0)
			}
		})
	}
}

func TestFetcherTTLOptions(t *testing.T) {
	tests := []struct {
		name string
		f    *Fetcher
		want ttlPolicy
	}{
		{"defaults", &Fetcher{}, ttlPolicy{min: DefaultMinCacheTTL, def: DefaultCacheTTL, max: DefaultMaxCacheTTL}},
		{"custom", &Fetcher{MinCacheTTL: 10 * time.Second, DefaultCacheTTL: time.Minute, MaxCacheTTL: time.Hour},
			ttlPolicy{min: 10 * time.Second, def: time.Minute, max: time.Hour}},
		{"negative minimum disables it", &Fetcher{MinCacheTTL: -1}, ttlPolicy{min: 0, def: DefaultCacheTTL, max: DefaultMaxCacheTTL}},
		{"minimum above maximum is capped", &Fetcher{MinCacheTTL: 2 * time.Hour, MaxCacheTTL: time.Hour},
			ttlPolicy{min: time.Hour, def: DefaultCacheTTL, max: time.Hour}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.f.init()
			if tt.f.ttl != tt.want {
				t.Errorf("ttl = %+v, want %+v", tt.f.ttl, tt.want)
			}
		})
	}
}
