package handlers

import (
	"cmp"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
)

// timelineRow is one line of a survivor's timeline on a page, in the
// viewer's language: what happened, their words or keys if any, and the
// details after.
type timelineRow struct {
	At     time.Time
	Class  string // in (from them), out (from Saathi), event
	Label  string
	Quote  string
	Detail string
	Link   string
}

// intentText names what a reply meant (UI message IDs).
var intentText = map[string]string{
	"ok": "IntentOK", "call_me": "KindCallMe", "help_now": "KindHelpNow", "duress": "KindDuress",
	"opt_out": "KindOptOut", "opt_in": "IntentOptIn", "help_info": "IntentHelpInfo", "free_text": "KindFreeText",
}

// intentWord is the UI message ID saying what a reply meant.
func intentWord(intent string) string { return cmp.Or(intentText[intent], "KindFreeText") }

// timelineRows says a survivor's timeline for people: texts and calls with
// the keys pressed, check-ins, what replies meant, flags, alerts (linked)
// and consent changes, at the survivor's local time (their safe windows are
// in it too).
func (s *Server) timelineRows(lang string, loc *time.Location, tl []TimelineEntry) []timelineRow {
	t := func(id string, kv ...any) string {
		var data map[string]any
		if len(kv) > 0 {
			data = map[string]any{}
			for i := 0; i+1 < len(kv); i += 2 {
				data[fmt.Sprint(kv[i])] = kv[i+1]
			}
		}
		return s.UI.T(lang, id, data)
	}
	str := func(v any) string {
		switch v := v.(type) {
		case string:
			return v
		case *string:
			if v != nil {
				return *v
			}
		}
		return ""
	}
	channel := func(v any) string {
		if str(v) == "voice" {
			return t("Voice")
		}
		return "SMS"
	}
	out := make([]timelineRow, 0, len(tl))
	for _, e := range tl {
		d := e.Data
		r := timelineRow{At: e.At.In(loc), Class: "event"}
		switch e.Type {
		case "message":
			body, status := str(d["body"]), str(d["status"])
			switch {
			case d["direction"] == "out" && d["channel"] == "voice":
				r.Class, r.Label, r.Detail = "out", t("TLCallOut"), status
			case d["direction"] == "out":
				r.Class, r.Label, r.Quote, r.Detail = "out", t("TLTextOut"), body, status
			case d["purpose"] == "missed_call":
				r.Class, r.Label = "in", t("TLMissedCall")
			case d["purpose"] == "call_in":
				r.Class, r.Label = "in", t("TLCalledIn")
			case d["channel"] == "voice":
				r.Class, r.Label, r.Quote = "in", t("TLKeys"), body
			default:
				r.Class, r.Label, r.Quote = "in", t("TLTextIn"), body
			}
		case "checkin":
			r.Label = t("TLCheckin", "Channel", channel(d["channel"]))
			r.Detail = t("State_" + str(d["state"]))
		case "response":
			r.Label = t("Meaning") + ": " + t(intentWord(str(d["intent"])))
			if danger, ok := d["danger"].([]string); ok && len(danger) > 0 {
				r.Detail = t("DangerWords") + ": " + strings.Join(danger, ", ")
			}
		case "flag":
			r.Label = t("TLFlag") + ": " + t(title(str(d["severity"]))) + " · " + t(cmp.Or(kindText[str(d["kind"])], "KindFreeText"))
		case "alert":
			r.Label = t("TLAlert") + ": " + t(title(str(d["severity"]))) + " · " + t(cmp.Or(kindText[str(d["kind"])], "KindFreeText"))
			r.Detail = t(title(str(d["status"])))
			if id, ok := d["id"].(uuid.UUID); ok {
				r.Link = "/dashboard/alerts/" + id.String()
			}
		case "consent":
			r.Label = t("TLConsentGiven")
			if d["action"] == "withdraw" {
				r.Label = t("TLConsentWithdrawn")
			}
			var chs []string
			if list, ok := d["channels"].([]string); ok {
				for _, ch := range list {
					chs = append(chs, channel(ch))
				}
			}
			r.Label += ": " + strings.Join(chs, ", ")
			r.Detail = t("By" + title(str(d["source"])))
		default:
			r.Label = e.Type
		}
		out = append(out, r)
	}
	return out
}

// title makes a word a UI message ID: "urgent" → "Urgent".
func title(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
