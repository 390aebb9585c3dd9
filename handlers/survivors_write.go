package handlers

import (
	"errors"
	"net/http"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/labstack/echo/v4"

	"saathi/db"
	"saathi/db/crypt"
	"saathi/jobs"
	"saathi/jobs/risk"
	"saathi/jobs/schedule"
)

// survivorPatch changes the fields present in the body. Consent has its own
// route (an append-only history); the cadence has its own too.
func (s *Server) survivorPatch(c echo.Context) error {
	q := s.queries()
	sv, err := s.scopedSurvivor(c, q)
	if err != nil {
		return err
	}
	var in SurvivorInput
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	if err := s.updateSurvivor(c, sv, in); err != nil {
		return err
	}
	out, err := s.loadSurvivorJSON(c.Request().Context(), q, sv.ID, true)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

// updateSurvivor changes the fields present in "in" for the API and the
// dashboard alike, each checked as at enrolment, in one transaction,
// audited by field name.
func (s *Server) updateSurvivor(c echo.Context, sv db.Survivor, in SurvivorInput) error {
	ctx := c.Request().Context()
	v := viewerOf(c)
	q := s.queries()
	if in.Consent != nil {
		return invalid("consent", "record consent with POST /api/v1/survivors/{id}/consent")
	}
	if in.Cadence != nil {
		return invalid("cadence", "change the cadence with PUT /api/v1/survivors/{id}/cadence")
	}
	// Reassigning a survivor moves who sees them: not a caseworker's call.
	if in.CaseworkerID != nil && v.Role == RoleCaseworker {
		return errForbidden
	}

	// Each change is applied to the row as it is when locked, so two
	// concurrent edits of different fields never undo each other (a new,
	// safe number must not be put back to the old one).
	var (
		changed []string
		sets    []func(*db.SurvivorUpdateParams)
	)
	set := func(field string, f func(*db.SurvivorUpdateParams)) {
		changed = append(changed, field)
		sets = append(sets, f)
	}
	if in.Reference != nil {
		ref, err := parseReference(*in.Reference)
		if err != nil {
			return err
		}
		enc := s.Keyring.SealString(crypt.SurvivorReference, ref)
		set("reference", func(p *db.SurvivorUpdateParams) { p.ReferenceEnc = enc })
	}
	if in.Phone != nil {
		ph, err := parsePhone(*in.Phone)
		if err != nil {
			return err
		}
		enc, hash := s.Keyring.SealString(crypt.SurvivorPhone, ph), s.Keyring.BlindIndex(ph)
		set("phone", func(p *db.SurvivorUpdateParams) { p.PhoneEnc, p.PhoneHash = enc, hash })
	}
	if in.Language != nil {
		lang, err := parseLanguage(*in.Language)
		if err != nil {
			return err
		}
		set("language", func(p *db.SurvivorUpdateParams) { p.Language = lang })
	}
	if in.Channels != nil {
		chs, err := parseChannels("channels", in.Channels)
		if err != nil {
			return err
		}
		set("channels", func(p *db.SurvivorUpdateParams) { p.Channels = chs })
	}
	if in.Timezone != nil {
		tz, err := parseTimezone(*in.Timezone)
		if err != nil {
			return err
		}
		set("timezone", func(p *db.SurvivorUpdateParams) { p.Timezone = tz })
	}
	windows := in.ContactWindows != nil
	parsedWindows, err := parseWindowsIf(windows, in.ContactWindows)
	if err != nil {
		return err
	}
	if windows {
		changed = append(changed, "contact_windows")
	}
	if in.DuressWord != nil {
		d, err := parseDuress(s.Replies, *in.DuressWord)
		if err != nil {
			return err
		}
		var enc []byte
		if d != "" {
			enc = s.Keyring.SealString(crypt.SurvivorDuress, d)
		}
		set("duress_word", func(p *db.SurvivorUpdateParams) { p.DuressEnc = enc })
	}
	if in.DuressCode != nil {
		c, err := parseDuressCode(*in.DuressCode)
		if err != nil {
			return err
		}
		var enc []byte
		if c != "" {
			enc = s.Keyring.SealString(crypt.SurvivorDuressCode, c)
		}
		set("duress_code", func(p *db.SurvivorUpdateParams) { p.DuressCodeEnc = enc })
	}
	if in.CaseworkerID != nil {
		id, err := parseUUIDField("caseworker_id", *in.CaseworkerID)
		if err != nil {
			return err
		}
		if err := checkAssignable(ctx, q, v, id); err != nil {
			return err
		}
		set("caseworker_id", func(p *db.SurvivorUpdateParams) { p.CaseworkerID = &id })
	}
	if len(changed) == 0 {
		return invalid("", "nothing to change")
	}

	err = pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		q := db.New(tx)
		cur, err := q.SurvivorGetForUpdate(ctx, sv.ID)
		if err != nil {
			return db.NotFound(err)
		}
		if cur.Status != "active" {
			return errNotFound // erased meanwhile
		}
		params := db.SurvivorUpdateParams{
			ID: cur.ID, ReferenceEnc: cur.ReferenceEnc, PhoneEnc: cur.PhoneEnc, PhoneHash: cur.PhoneHash,
			DuressEnc: cur.DuressEnc, DuressCodeEnc: cur.DuressCodeEnc, Language: cur.Language, Channels: cur.Channels, Timezone: cur.Timezone,
			CaseworkerID: cur.CaseworkerID, Now: s.now(),
		}
		for _, f := range sets {
			f(&params)
		}
		if _, err := q.SurvivorUpdate(ctx, params); err != nil {
			if db.IsUniqueViolation(err, "survivors_phone_hash_active") {
				return errPhoneTaken
			}
			return db.NotFound(err)
		}
		if windows {
			if err := insertWindows(ctx, q, sv.ID, parsedWindows); err != nil {
				return err
			}
		}
		if !sameStaff(cur.CaseworkerID, params.CaseworkerID) {
			// Alerts follow the survivor: the new caseworker answers for
			// them from now on, and the old one no longer sees them.
			if err := jobs.FollowSurvivor(ctx, s.jobDeps(), s.River, tx, sv.ID, cur.CaseworkerID, params.CaseworkerID, &v.ID, params.Now); err != nil {
				return err
			}
		}
		return audit(ctx, q, v.ID, "survivor.update", &sv.ID, map[string]any{"fields": changed})
	})
	if errors.Is(err, errPhoneTaken) {
		// On record, and answered exactly like a malformed number.
		if err := audit(ctx, s.queries(), v.ID, "survivor.phone_conflict", &sv.ID, nil); err != nil {
			return err
		}
		return errPhoneUnusable
	}
	return err
}

// survivorDelete erases a survivor's personal data on request: phone,
// reference, duress word, message bodies, reply evidence and alert notes go;
// the rows stay, anonymous, so counts and reports still add up. Pending
// check-ins are cancelled.
func (s *Server) survivorDelete(c echo.Context) error {
	sv, err := s.scopedSurvivor(c, s.queries())
	if err != nil {
		return err
	}
	if err := s.eraseSurvivor(c, sv); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// eraseSurvivor erases for the API and the dashboard alike.
func (s *Server) eraseSurvivor(c echo.Context, sv db.Survivor) error {
	ctx := c.Request().Context()
	v := viewerOf(c)
	now := s.now()
	return pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		q := db.New(tx)
		if _, err := q.SurvivorGetForUpdate(ctx, sv.ID); err != nil {
			return db.NotFound(err)
		}
		if err := q.SurvivorErase(ctx, db.SurvivorEraseParams{ID: sv.ID, Now: now}); err != nil {
			return err
		}
		if err := q.ContactWindowDeleteAll(ctx, sv.ID); err != nil {
			return err
		}
		if _, err := q.CheckinCancelAllForSurvivor(ctx, db.CheckinCancelAllForSurvivorParams{SurvivorID: sv.ID, Reason: ptr("erased"), Now: now}); err != nil {
			return err
		}
		if err := q.SurvivorEraseMessages(ctx, db.SurvivorEraseMessagesParams{SurvivorID: sv.ID, Now: now}); err != nil {
			return err
		}
		if err := q.SurvivorEraseAlertMessages(ctx, db.SurvivorEraseAlertMessagesParams{SurvivorID: sv.ID, Now: now}); err != nil {
			return err
		}
		if err := q.SurvivorEraseResponses(ctx, sv.ID); err != nil {
			return err
		}
		if err := q.SurvivorEraseAlertNotes(ctx, sv.ID); err != nil {
			return err
		}
		if err := q.SurvivorEraseConsentNotes(ctx, sv.ID); err != nil {
			return err
		}
		// Nothing is left to act on: open alerts are closed, on record.
		closed, err := q.AlertCloseForSurvivor(ctx, db.AlertCloseForSurvivorParams{SurvivorID: sv.ID, StaffID: &v.ID, Now: now})
		if err != nil {
			return err
		}
		for _, id := range closed {
			if err := jobs.AlertEvent(ctx, q, id, "resolved", &v.ID, map[string]any{"reason": "survivor erased"}, now); err != nil {
				return err
			}
		}
		return audit(ctx, q, v.ID, "survivor.erase", &sv.ID, nil)
	})
}

// consentCreate appends to the consent history: consent is never edited,
// only given or withdrawn again, and each record takes effect in order
// (see checkConsentChange for what staff may not do).
func (s *Server) consentCreate(c echo.Context) error {
	sv, err := s.scopedSurvivor(c, s.queries())
	if err != nil {
		return err
	}
	var in ConsentInput
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	if err := s.recordConsent(c, sv, in); err != nil {
		return err
	}
	out, err := s.loadSurvivorJSON(c.Request().Context(), s.queries(), sv.ID, true)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, map[string]any{"consent": out.Consent, "consent_history": out.ConsentHistory})
}

// recordConsent appends one staff consent record, for the API and the
// dashboard alike.
func (s *Server) recordConsent(c echo.Context, sv db.Survivor, in ConsentInput) error {
	ctx := c.Request().Context()
	v := viewerOf(c)
	now := s.now()
	sp, err := parseConsent("", &in, sv.Channels, now, true)
	if err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		q := db.New(tx)
		// Every consent change locks the survivor first, so a STOP and a
		// staff member's record never interleave unseen.
		cur, err := q.SurvivorGetForUpdate(ctx, sv.ID)
		if err != nil {
			return db.NotFound(err)
		}
		if cur.Status != "active" {
			return errNotFound
		}
		latest, err := q.ConsentLatest(ctx, sv.ID)
		if err != nil {
			return err
		}
		restores, err := checkConsentChange(sp, latest)
		if err != nil {
			return err
		}
		rec, err := q.ConsentRecordCreate(ctx, db.ConsentRecordCreateParams{
			SurvivorID: sv.ID, Action: sp.action, Channels: sp.channels, Method: sp.method,
			Source: "staff", RecordedBy: &v.ID, RecordedAt: sp.recordedAt, NoteEnc: s.sealNote(sp.note),
		})
		if err != nil {
			return err
		}
		if err := audit(ctx, q, v.ID, "consent."+sp.action, &sv.ID, map[string]any{"channels": sp.channels, "consent_record_id": rec.ID}); err != nil {
			return err
		}
		if !restores {
			return nil
		}
		// Contact resumes against the survivor's own last word: their
		// caseworker's supervisor sees it in their alerts.
		_, err = jobs.RaiseFlag(ctx, s.jobDeps(), s.River, tx, db.RiskFlagCreateParams{
			SurvivorID: sv.ID, Kind: risk.KindConsentRestored, Severity: string(s.rules().Signals.ConsentRestored), Now: now,
		})
		return err
	})
}

// sameStaff reports whether two optional staff IDs are the same.
func sameStaff(a, b *uuid.UUID) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && *a == *b)
}

func parseWindowsIf(present bool, in []WindowJSON) ([]schedule.ContactWindow, error) {
	if !present {
		return nil, nil
	}
	return parseWindows(in)
}

func parseUUIDField(field, s string) (uuid.UUID, error) {
	id, err := uuid.Parse(s)
	if err != nil {
		return uuid.UUID{}, invalid(field, "not an ID")
	}
	return id, nil
}
