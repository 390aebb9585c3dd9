package telephony_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"saathi/jobs"
	"saathi/jobs/telephony/twiliofake"
)

// TestFindSMSLooksPastTheNewestFifty: a caseworker's phone gets every
// alert of their cases, so by the time an alert text with an unknown
// outcome is reconciled, dozens of newer texts may have gone to the same
// number. FindSMS must still find it, or the alert is texted twice.
// (Found by cmd/faultsuite at 10,000 survivors: nine alert texts sent
// twice.)
func TestFindSMSLooksPastTheNewestFifty(t *testing.T) {
	t.Parallel()
	fake := twiliofake.New(t)
	tw := newTwilio(t, fake, nil)
	ctx := context.Background()
	const to = "+919000000010"
	since := time.Now().Add(-time.Minute)

	sought := jobs.SMS{To: to, Body: "Saathi alert SA-1001: urgent. ACK 123456"}
	if _, err := tw.SendSMS(ctx, sought); err != nil {
		t.Fatal(err)
	}
	for i := range 250 { // more than a page
		if _, err := tw.SendSMS(ctx, jobs.SMS{To: to, Body: fmt.Sprintf("Saathi alert SA-%d: high. ACK %06d", 2000+i, i)}); err != nil {
			t.Fatal(err)
		}
	}
	found, err := tw.FindSMS(ctx, to, sought.Body, since)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || found[0].SID != fake.Messages()[0].SID {
		t.Fatalf("FindSMS behind 250 newer texts found %+v, want the first text sent", found)
	}
}
