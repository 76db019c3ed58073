package graph

import "testing"

// Contract: GET /groups lists the caller's tenant's groups; $search needs
// ConsistencyLevel: eventual and matches words of the display name by
// prefix; listing needs a group-reading scope.
func TestGroupsListAndSearch(t *testing.T) {
	e := newEnv(t)
	admin := e.tok("contoso", "admin", "Group.Read.All Sites.Read.All")
	eventual := map[string]string{"ConsistencyLevel": "eventual"}
	tests := []struct {
		name   string
		path   string
		tok    string
		hdr    map[string]string
		status int
		want   []string
	}{
		{"all", "/v1.0/groups", admin, nil, 200, []string{"Finance Team", "Marketing", "All Staff"}},
		{"top", "/v1.0/groups?$top=1", admin, nil, 200, []string{"Finance Team"}},
		{"search", `/v1.0/groups?$search="displayName:fin"`, admin, eventual, 200, []string{"Finance Team"}},
		{"search second word", `/v1.0/groups?$search="displayName:STAFF"`, admin, eventual, 200, []string{"All Staff"}},
		{"search nothing", `/v1.0/groups?$search="displayName:zzz"`, admin, eventual, 200, nil},
		{"search without header", `/v1.0/groups?$search="displayName:fin"`, admin, nil, 400, nil},
		{"unquoted search", `/v1.0/groups?$search=displayName:fin`, admin, eventual, 400, nil},
		{"bad top", "/v1.0/groups?$top=0", admin, nil, 400, nil},
		{"no scope", "/v1.0/groups", e.tok("contoso", "admin", "Files.Read.All"), nil, 403, nil},
		{"other tenant", "/v1.0/groups", e.tok("fabrikam", "frank", "Group.Read.All"), nil, 200, []string{"Sales Team"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.call(req{path: tc.path, tok: tc.tok, hdr: tc.hdr}).want(t, tc.status)
			if tc.status != 200 {
				return
			}
			var got []string
			for _, v := range r.values() {
				got = append(got, v["displayName"].(string))
			}
			if len(got) != len(tc.want) {
				t.Fatalf("groups = %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("groups = %v, want %v", got, tc.want)
				}
			}
		})
	}
}
