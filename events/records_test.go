package events

import (
	"encoding/json"
	"testing"
	"time"
)

func TestAliasPick(t *testing.T) {
	a := Alias{Version: 3, Additional: &Weighted{Version: 4, Weight: 0.1}}
	for draw, want := range map[float64]int{0: 4, 0.0999: 4, 0.1: 3, 0.5: 3, 0.9999: 3} {
		if got := a.Pick(draw); got != want {
			t.Errorf("Pick(%v) = %d, want %d", draw, got, want)
		}
	}
	if got := (Alias{Version: 2}).Pick(0); got != 2 {
		t.Errorf("unweighted Pick = %d", got)
	}
	if !a.Uses(3) || !a.Uses(4) || a.Uses(5) {
		t.Error("Uses")
	}
}

func TestAliasJSON(t *testing.T) {
	var f Function
	if err := json.Unmarshal([]byte(`{"name":"f","latest":4,"aliases":{"old":2,"prod":{"version":3,"additional":{"version":4,"weight":0.25}}}}`), &f); err != nil {
		t.Fatal(err)
	}
	if f.Aliases["old"].Version != 2 || f.Aliases["old"].Additional != nil {
		t.Errorf("bare number alias = %+v", f.Aliases["old"])
	}
	p := f.Aliases["prod"]
	if p.Version != 3 || p.Additional == nil || p.Additional.Version != 4 || p.Additional.Weight != 0.25 {
		t.Errorf("prod = %+v", p)
	}
	b, _ := json.Marshal(p)
	if string(b) != `{"version":3,"additional":{"version":4,"weight":0.25}}` {
		t.Errorf("marshal = %s", b)
	}
	if err := json.Unmarshal([]byte(`{"aliases":{"x":"three"}}`), &f); err == nil {
		t.Error("a string alias decoded")
	}
}

func TestFunctionAndVersionRecords(t *testing.T) {
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	f := Function{Name: "hello", Latest: 3, Aliases: map[string]Alias{"prod": {Version: 2}}, Created: at, Updated: at}
	b, err := EncodeFunction(f)
	// As the registry has always written a head.
	const head = `{"name":"hello","latest":3,"aliases":{"prod":{"version":2}},"created":"2025-01-02T03:04:05Z","updated":"2025-01-02T03:04:05Z"}`
	if err != nil || string(b) != head {
		t.Errorf("head = %s, %v", b, err)
	}
	if got, err := DecodeFunction([]byte(head)); err != nil || got.Latest != 3 || got.Aliases["prod"].Version != 2 || !got.Created.Equal(at) {
		t.Errorf("decoded head = %+v, %v", got, err)
	}
	v := Version{Function: "hello", Version: 3, Config: Config{Runtime: "python3.12", Handler: "main.handler", MemoryMB: 128,
		Timeout: Duration(30 * time.Second), Max: 10, Concurrency: 1, IdleTimeout: Duration(time.Minute), Retries: 2},
		Code: CodeRef{SHA256: "ab", Size: 10}, Created: at}
	b, err = EncodeVersion(v)
	const version = `{"function":"hello","version":3,"config":{"runtime":"python3.12","handler":"main.handler","memoryMB":128,"timeout":"30s","min":0,"max":10,"concurrency":1,"idleTimeout":"1m0s","retries":2},"code":{"sha256":"ab","size":10},"created":"2025-01-02T03:04:05Z"}`
	if err != nil || string(b) != version {
		t.Errorf("version = %s, %v", b, err)
	}
	if got, err := DecodeVersion([]byte(version)); err != nil || got.Config.Timeout.D() != 30*time.Second || got.Code.SHA256 != "ab" || got.Version != 3 {
		t.Errorf("decoded version = %+v, %v", got, err)
	}
	if _, err := DecodeVersion([]byte(`{"config":{"timeout":"soon"}}`)); err == nil {
		t.Error("a bad version decoded")
	}
	if !IsVersionKey(VersionKey("hello", 3)) || IsVersionKey(FunctionKey("hello")) {
		t.Error("IsVersionKey")
	}
}
