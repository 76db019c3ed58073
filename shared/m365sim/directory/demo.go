package directory

// Fixed identifiers of the demo seed. They are stable so that the demo's
// configuration, the MSAL cache and the docs can name them.
const (
	DemoClientID      = "4b0d3b5c-6f2e-4c1a-9d6e-3a2f1e0c7b11" // Mapdrive desktop client (public)
	DemoServiceAppID  = "9f8e7d6c-5b4a-4392-8a1b-0c9d8e7f6a55" // Mapdrive service API + portal (confidential)
	DemoServiceAppURI = "api://mapdrive"
	// The second service API registration is left at Entra's default
	// token version (v1.0), as a real tenant set up from the docs is, so
	// that both token versions run in every test.
	DemoServiceV1AppID  = "2c4e6a8b-1d3f-4a5c-9e7b-6f8d0a2c4e61"
	DemoServiceV1AppURI = "api://mapdrive-v1"
	DemoServiceV1Secret = "portal-v1-dev-secret"
	DemoServiceScope    = "Mapdrive.Access"
	DemoAdminRole       = "Mapdrive.Admin"
	DemoServiceSecret   = "portal-dev-secret"
	DemoContosoID       = "7a1c9e52-3b4d-4f6a-8e2b-1c5d9f0a3e77"
	DemoFabrikamID      = "d3b07384-d9a0-4c9f-8d2e-6f1a2b3c4d5e"
	DemoNorthwindID     = "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9"
)

// DemoClientScopes are the Graph scopes the Mapdrive client asks for.
var DemoClientScopes = []string{"Files.ReadWrite.All", "Sites.ReadWrite.All", "User.Read", "offline_access", "openid", "profile"}

// DemoSeed is the built-in seed: tenant contoso with alice, bob and an
// admin, each with a OneDrive; a Finance site with a Documents library and
// a read-only Policies library behind the "Finance Team" Team; a Marketing
// Team with its own drive; and tenant fabrikam, whose policy blocks user
// consent, for isolation and consent tests.
func DemoSeed() *Seed {
	oneDrive := func(files ...File) *Drive { return &Drive{Name: "OneDrive", Files: files} }
	return &Seed{
		Apps: []App{
			{
				ClientID: DemoClientID, DisplayName: "Mapdrive", PublicClient: true,
				RedirectURIs: []string{"http://localhost"},
			},
			{
				ClientID: DemoServiceAppID, DisplayName: "Mapdrive Service",
				Secret:        DemoServiceSecret,
				RedirectURIs:  []string{"https://localhost:8443/portal/auth/callback"},
				IdentifierURI: DemoServiceAppURI,
				Scopes:        []string{DemoServiceScope},
				AppRoles:      []string{DemoAdminRole},
				// The demo and most tests use this API with v2.0 tokens
				// that carry the user's groups.
				RequestedAccessTokenVersion: 2,
				GroupMembershipClaims:       "SecurityGroup",
			},
			{
				ClientID: DemoServiceV1AppID, DisplayName: "Mapdrive Service (v1 tokens)",
				Secret:                DemoServiceV1Secret,
				IdentifierURI:         DemoServiceV1AppURI,
				Scopes:                []string{DemoServiceScope},
				AppRoles:              []string{DemoAdminRole},
				GroupMembershipClaims: "SecurityGroup",
			},
		},
		Tenants: []Tenant{
			{
				ID: DemoContosoID, Name: "contoso", DisplayName: "Contoso Ltd",
				Domains: []string{"contoso.com", "contoso.onmicrosoft.com"},
				Consents: []Consent{
					{ClientID: DemoClientID, Resource: GraphAppID, Scopes: DemoClientScopes},
					{ClientID: DemoClientID, Resource: DemoServiceAppURI, Scopes: []string{DemoServiceScope}},
					{ClientID: DemoClientID, Resource: DemoServiceV1AppURI, Scopes: []string{DemoServiceScope}},
					{ClientID: DemoServiceAppID, Resource: GraphAppID, Scopes: []string{"User.Read", "Sites.Read.All", "Group.Read.All", "openid", "profile", "offline_access"}},
					{ClientID: DemoServiceV1AppID, Resource: GraphAppID, Scopes: []string{"User.Read", "Sites.Read.All", "Group.Read.All", "openid", "profile", "offline_access"}},
				},
				Users: []User{
					{UserName: "alice", DisplayName: "Alice Anders", Drive: oneDrive(
						File{Path: "Documents/"},
						File{Path: "Documents/Welcome.txt", Content: "Welcome to your OneDrive, mapped by Mapdrive.\n"},
						File{Path: "Documents/Notes.md", Content: "# Notes\n\n- try ls, cp and mv in the mount\n"},
						File{Path: "Pictures/"},
						File{Path: "Pictures/sample.bin", Size: 256 << 10},
					)},
					{UserName: "bob", DisplayName: "Bob Berg", Drive: oneDrive(
						File{Path: "Documents/Bob's plan.txt", Content: "Bob's plan.\n"},
					)},
					{UserName: "admin", DisplayName: "Adele Admin",
						AppRoles: []RoleAssignment{{App: DemoServiceAppURI, Role: DemoAdminRole}, {App: DemoServiceV1AppURI, Role: DemoAdminRole}},
						Drive:    oneDrive()},
				},
				Groups: []Group{
					{DisplayName: "Finance Team", Members: []string{"alice", "admin"}, Team: true, Site: "Finance"},
					{DisplayName: "Marketing", Members: []string{"alice", "bob"}, Team: true, Site: "Marketing"},
					{DisplayName: "All Staff", Members: []string{"alice", "bob", "admin"}},
				},
				Sites: []Site{
					{
						Name: "Finance", DisplayName: "Finance", Path: "/sites/Finance",
						Members: []string{"alice", "admin"}, Visitors: []string{"bob"}, Followers: []string{"alice", "admin"},
						Libraries: []Drive{
							{Name: "Documents", Files: []File{
								{Path: "Budget 2026.xlsx", Size: 48 << 10},
								{Path: "Reports/"},
								{Path: "Reports/Q1.txt", Content: "Q1 revenue: 1,234,567\n"},
							}},
							{Name: "Policies", ReadOnly: true, Files: []File{
								{Path: "Expenses policy.txt", Content: "Claims over 500 need approval.\n"},
							}},
						},
					},
					{
						Name: "Marketing", DisplayName: "Marketing", Path: "/sites/Marketing",
						Members: []string{"alice", "bob"}, Followers: []string{"bob"},
						Libraries: []Drive{{Name: "Documents", Files: []File{
							{Path: "General/"},
							{Path: "General/Campaign.txt", Content: "Spring campaign ideas.\n"},
						}}},
					},
				},
			},
			{
				ID: DemoFabrikamID, Name: "fabrikam", DisplayName: "Fabrikam Inc",
				Domains: []string{"fabrikam.com", "fabrikam.onmicrosoft.com"},
				Consents: []Consent{
					{ClientID: DemoClientID, Resource: GraphAppID, Scopes: DemoClientScopes},
					{ClientID: DemoClientID, Resource: DemoServiceAppURI, Scopes: []string{DemoServiceScope}},
					{ClientID: DemoClientID, Resource: DemoServiceV1AppURI, Scopes: []string{DemoServiceScope}},
					{ClientID: DemoServiceAppID, Resource: GraphAppID, Scopes: []string{"User.Read", "Sites.Read.All", "Group.Read.All", "openid", "profile", "offline_access"}},
					{ClientID: DemoServiceV1AppID, Resource: GraphAppID, Scopes: []string{"User.Read", "Sites.Read.All", "Group.Read.All", "openid", "profile", "offline_access"}},
				},
				Users: []User{
					{UserName: "frank", DisplayName: "Frank Fischer", Drive: oneDrive(
						File{Path: "Secret.txt", Content: "fabrikam only\n"},
					)},
					{UserName: "fiona", DisplayName: "Fiona Admin",
						AppRoles: []RoleAssignment{{App: DemoServiceAppURI, Role: DemoAdminRole}, {App: DemoServiceV1AppURI, Role: DemoAdminRole}},
						Drive:    oneDrive()},
				},
				Groups: []Group{{DisplayName: "Sales Team", Members: []string{"frank", "fiona"}, Team: true, Site: "Sales"}},
				Sites: []Site{{
					Name: "Sales", DisplayName: "Sales", Path: "/sites/Sales", Members: []string{"frank", "fiona"}, Followers: []string{"frank"},
					Libraries: []Drive{{Name: "Documents", Files: []File{{Path: "Pipeline.txt", Content: "fabrikam pipeline\n"}}}},
				}},
			},
			{
				ID: DemoNorthwindID, Name: "northwind", DisplayName: "Northwind Traders",
				Domains:            []string{"northwind.com"},
				UserConsentBlocked: true,
				Users:              []User{{UserName: "nina", DisplayName: "Nina Nord", Drive: oneDrive()}},
			},
		},
	}
}
