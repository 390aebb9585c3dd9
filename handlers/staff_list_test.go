package handlers_test

import (
	"net/http"
	"sort"
	"strings"
	"testing"
)

// TestStaffList: admins and supervisors list the active staff, phones
// masked and no token shown; a caseworker may not; a deactivated member
// is left out. (fixture.do also holds each answer to openapi.yaml.)
func TestStaffList(t *testing.T) {
	t.Parallel()
	f := setup(t)
	if r := f.do(http.MethodPost, "/api/v1/staff/"+f.otherCaseworker.ID+"/deactivate", f.admin.Token, nil); r.Code != http.StatusNoContent {
		t.Fatalf("deactivate: %d %s", r.Code, r.Body)
	}
	for _, token := range []string{f.admin.Token, f.supervisor.Token} {
		r := f.do(http.MethodGet, "/api/v1/staff", token, nil)
		if r.Code != http.StatusOK {
			t.Fatalf("list: %d %s", r.Code, r.Body)
		}
		var names []string
		for _, s := range r.json(t)["staff"].([]any) {
			m := s.(map[string]any)
			names = append(names, m["name"].(string))
			if _, ok := m["token"]; ok {
				t.Errorf("the list shows %s's token", m["name"])
			}
			if p, _ := m["phone"].(string); !strings.Contains(p, "*") {
				t.Errorf("%s's phone %q is not masked", m["name"], p)
			}
		}
		sort.Strings(names)
		if got := strings.Join(names, ", "); got != "Asha Admin, Kiran Caseworker, Sunita Supervisor" {
			t.Errorf("active staff: %s", got)
		}
	}
	if r := f.do(http.MethodGet, "/api/v1/staff", f.caseworker.Token, nil); r.Code != http.StatusForbidden {
		t.Errorf("caseworker lists staff: %d, want 403", r.Code)
	}
}
