package handlers_test

import (
	"net/http"
	"net/url"
	"testing"

	"saathi/jobs/telephony/twiliofake"
)

// BenchmarkInboundWebhook is the whole webhook in one process, through the
// real router and a real database: signature, decoding, survivor lookup,
// store, job insert, TwiML. For the throughput under load from a second
// process, see cmd/loadgen/bench-webhook.sh.
func BenchmarkInboundWebhook(b *testing.B) {
	f := setup(b)
	f.enrol("+919876543210")
	b.ReportAllocs()
	for b.Loop() {
		form := url.Values{"MessageSid": {newSID()}, "AccountSid": {twiliofake.AccountSID}, "From": {"+919876543210"}, "To": {"+15005550006"}, "Body": {"1"}}
		if rec := f.signedPost("/twilio/sms", form, testAuthToken); rec.Code != http.StatusOK {
			b.Fatal(rec.Code)
		}
	}
}
