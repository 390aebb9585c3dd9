package telephony_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"saathi/db"
	"saathi/db/crypt"
	"saathi/db/dbtest"
	"saathi/jobs"
	"saathi/jobs/telephony"
)

// TestDevPlaceCall: the dev provider keeps a placed call in the outbox as
// channel "call", its number sealed and its body the call's URL (no
// personal data, and something the outbox page can open); FindCalls finds
// it among calls to that number since a time, never a text, and FindSMS
// never a call.
func TestDevPlaceCall(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	kr := dbtest.Keyring(t)
	dev := telephony.NewDev(pool, kr)
	since := time.Now().Add(-time.Minute)

	call := checkinCall()
	res, err := dev.PlaceCall(ctx, call)
	if err != nil {
		t.Fatal(err)
	}
	other := checkinCall()
	other.To = "+919876543210"
	if _, err := dev.PlaceCall(ctx, other); err != nil {
		t.Fatal(err)
	}
	// A text to the same number whose body is the call's URL: not a call.
	if _, err := dev.SendSMS(ctx, jobs.SMS{To: call.To, Body: call.URL}); err != nil {
		t.Fatal(err)
	}

	rows, err := db.New(pool).DevOutboxSince(ctx, since)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || rows[0].Sid != res.SID || rows[0].Channel != "call" || res.Status != "queued" || res.SID[:2] != "CA" {
		t.Fatalf("outbox %+v, result %+v", rows, res)
	}
	to, err1 := kr.OpenString(crypt.OutboxTo, rows[0].ToEnc)
	body, err2 := kr.OpenString(crypt.OutboxBody, rows[0].BodyEnc)
	if err1 != nil || err2 != nil || to != call.To || body != call.URL {
		t.Errorf("outbox row holds to %q body %q (%v, %v)", to, body, err1, err2)
	}

	found, err := dev.FindCalls(ctx, call.To, since)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]jobs.SendResult{res}, found); diff != "" {
		t.Errorf("FindCalls (-want +got):\n%s", diff)
	}
	if found, err := dev.FindCalls(ctx, call.To, time.Now().Add(time.Hour)); err != nil || len(found) != 0 {
		t.Errorf("FindCalls after the call = %+v, %v", found, err)
	}
	if found, err := dev.FindSMS(ctx, call.To, call.URL, since); err != nil || len(found) != 1 || found[0].SID == res.SID {
		t.Errorf("FindSMS = %+v, %v; want only the text", found, err)
	}

	incomplete := checkinCall()
	incomplete.StatusCallback = ""
	if _, err := dev.PlaceCall(ctx, incomplete); err == nil {
		t.Error("a call without a status callback was placed")
	}
}
