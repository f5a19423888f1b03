package events

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateName(t *testing.T) {
	for _, ok := range []string{"a", "hello", "hello-world-2", "a" + strings.Repeat("b", 62)} {
		if err := ValidateName(ok); err != nil {
			t.Errorf("ValidateName(%q) = %v, want nil", ok, err)
		}
	}
	for _, bad := range []string{"", "Hello", "1abc", "a.b", "a*", "a>", "a b", "-a", "a" + strings.Repeat("b", 63)} {
		if err := ValidateName(bad); !errors.Is(err, ErrInvalidName) {
			t.Errorf("ValidateName(%q) = %v, want ErrInvalidName", bad, err)
		}
	}
}

func TestSubjects(t *testing.T) {
	if got := InvokeSubject("f"); got != "sluice.invoke.f" {
		t.Fatalf("InvokeSubject = %q", got)
	}
	if got := DLQSubject("f"); got != "sluice.dlq.f" {
		t.Fatalf("DLQSubject = %q", got)
	}
	if got := LogsSubject("f"); got != "sluice.logs.f" {
		t.Fatalf("LogsSubject = %q", got)
	}
	if got := MetersSubject("f"); got != "sluice.meters.f" {
		t.Fatalf("MetersSubject = %q", got)
	}
}

func TestTriggerValidate(t *testing.T) {
	ok := Trigger{Function: "f", Kind: TriggerCron, Cron: &CronSpec{Expr: "@hourly"}}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid trigger: %v", err)
	}
	for name, bad := range map[string]Trigger{
		"no function":   {Kind: TriggerCron, Cron: &CronSpec{Expr: "@hourly"}},
		"kind mismatch": {Function: "f", Kind: TriggerQueue, Cron: &CronSpec{Expr: "@hourly"}},
		"two parts":     {Function: "f", Kind: TriggerCron, Cron: &CronSpec{}, HTTP: &HTTPSpec{}},
		"no part":       {Function: "f", Kind: TriggerHTTP},
		"unknown kind":  {Function: "f", Kind: "email"},
	} {
		if err := bad.Validate(); !errors.Is(err, ErrInvalidTrigger) {
			t.Errorf("%s: err = %v, want ErrInvalidTrigger", name, err)
		}
	}
}
