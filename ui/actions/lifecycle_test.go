package actions

import (
	"testing"

	"iapterm/ui/common"
)

// A power key on an instance in the wrong state says which instance, its
// state and the states the action needs, in a sentence.
func TestLifecycleWhySaysWhatApplies(t *testing.T) {
	stop, ok := ByID(&common.Common{}, "power.stop")
	if !ok {
		t.Fatal("no power.stop action")
	}
	if stop.Applies(stoppedVM) {
		t.Fatal("stop applies to a TERMINATED VM")
	}
	want := "Cannot stop old: it is TERMINATED (stop applies to RUNNING or SUSPENDED instances)"
	if got := stop.Why(stoppedVM); got != want {
		t.Errorf("Why = %q, want %q", got, want)
	}
	if !stop.Applies(linuxVM) {
		t.Error("stop does not apply to a RUNNING VM")
	}
}
