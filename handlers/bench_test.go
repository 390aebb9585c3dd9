package handlers_test

import (
	"net/http"
	"net/url"
	"testing"

	"saathi/db/dbtest"
	"saathi/jobs/telephony/twiliofake"
)

// BenchmarkInboundWebhook is the whole webhook in one process, through the
// real router and a real database that commits durably (synchronous_commit
// on, as in production): signature, decoding, survivor lookup, store, job
// insert, TwiML. No worker runs and nothing calls Twilio, so the fake
// Twilio's latency does not apply. For the throughput under load from a
// second process, see cmd/loadgen/bench-webhook.sh.
func BenchmarkInboundWebhook(b *testing.B) {
	f := setup(b)
	dbtest.RequireSynchronousCommit(b, f.pool)
	f.enrol("+919876543210")
	b.ReportAllocs()
	for b.Loop() {
		form := url.Values{"MessageSid": {newSID()}, "AccountSid": {twiliofake.AccountSID}, "From": {"+919876543210"}, "To": {"+15005550006"}, "Body": {"1"}}
		if rec := f.signedPost("/twilio/sms", form, testAuthToken); rec.Code != http.StatusOK {
			b.Fatal(rec.Code)
		}
	}
}
