package agent

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mapdrive/mapdrive/client/internal/failure"
	"github.com/mapdrive/mapdrive/shared/apitype"
)

// loginRun is one sign-in in progress. prompt, acct and err are guarded
// by Agent.mu; ready is closed when prompt is set, done when it ends.
type loginRun struct {
	deviceCode bool
	prompt     *apitype.LoginPrompt
	ready      chan struct{}
	done       chan struct{}
	acct       Account
	err        error
	cancel     context.CancelFunc
}

// loginTimeout bounds a sign-in in progress (device codes last 15 minutes).
const loginTimeout = 15 * time.Minute

// promptWait is how long Login waits for the prompt before answering.
const promptWait = 30 * time.Second

func (a *Agent) notConfigured() *apitype.Error {
	// Check names the setting, its sources and the page that explains
	// it; the agent only runs unconfigured without a client_id.
	action := "Set client_id (and authority, graph_url, service_url, service_scope for your tenant), or ask your IT administrator for the Mapdrive policy."
	if err := a.o.Config.Check(); err != nil {
		action = err.Error()
	}
	return apitype.NewError(apitype.CodeNotSignedIn, "Mapdrive is not configured: no client_id is set", action)
}

// Login implements localapi.Sessions.
func (a *Agent) Login(ctx context.Context, req apitype.LoginRequest) (apitype.LoginResponse, error) {
	if a.o.Auth == nil {
		return apitype.LoginResponse{}, a.notConfigured()
	}
	a.mu.Lock()
	run := a.st.login
	if run != nil && run.deviceCode != req.DeviceCode {
		a.mu.Unlock()
		return apitype.LoginResponse{}, apitype.NewError(apitype.CodeLoginInProgress,
			"another sign-in is in progress", "Finish it, or wait for it to time out, then try again.")
	}
	if run == nil {
		run = a.startLoginLocked(req.DeviceCode)
	}
	a.mu.Unlock()

	t := time.NewTimer(promptWait)
	defer t.Stop()
	select {
	case <-run.ready:
	case <-run.done:
	case <-ctx.Done():
		return apitype.LoginResponse{}, ctx.Err()
	case <-t.C:
		return apitype.LoginResponse{}, apitype.NewError(apitype.CodeOffline,
			"the Microsoft sign-in service did not answer in time", "Check the network connection and the authority setting, then try again.")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	select {
	case <-run.done:
		if run.err != nil {
			return apitype.LoginResponse{}, loginProblem(run.err)
		}
		acct := run.acct
		return apitype.LoginResponse{Account: &acct}, nil
	default:
	}
	p := *run.prompt
	return apitype.LoginResponse{Prompt: &p}, nil
}

// startLoginLocked starts a sign-in owned by the agent, not by the request
// that asked for it.
func (a *Agent) startLoginLocked(deviceCode bool) *loginRun {
	ctx, cancel := context.WithTimeout(a.ctx, loginTimeout)
	run := &loginRun{deviceCode: deviceCode, ready: make(chan struct{}), done: make(chan struct{}), cancel: cancel}
	a.st.login = run
	a.st.signIn = apitype.SigningIn
	a.changedLocked()
	setPrompt := func(p apitype.LoginPrompt) {
		a.mu.Lock()
		defer a.mu.Unlock()
		if run.prompt == nil {
			run.prompt = &p
			close(run.ready)
			a.changedLocked()
		}
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		defer cancel()
		var acct Account
		var err error
		if deviceCode {
			acct, err = a.o.Auth.LoginDeviceCode(ctx, func(dc DeviceCode) {
				setPrompt(apitype.LoginPrompt{DeviceCode: true, Message: dc.Message, UserCode: dc.UserCode,
					VerificationURL: dc.VerificationURL, ExpiresAt: dc.ExpiresAt})
			})
		} else {
			acct, err = a.o.Auth.LoginInteractive(ctx, func(u string) {
				setPrompt(apitype.LoginPrompt{AuthURL: u,
					Message: "Finish signing in in your browser. If it did not open, open this address: " + u})
			})
		}
		a.finishLogin(run, acct, err)
	}()
	return run
}

func (a *Agent) finishLogin(run *loginRun, acct Account, err error) {
	a.mu.Lock()
	run.acct, run.err = acct, err
	close(run.done)
	if a.st.login == run {
		a.st.login = nil
	}
	if err != nil {
		defer a.mu.Unlock()
		a.log.Warn("sign-in failed", "err", err)
		a.st.signIn = apitype.SignedOut
		if a.st.account != nil {
			a.st.signIn = apitype.SignedIn
		}
		a.problemLocked(loginProblem(err).Problem)
		return
	}
	a.log.Info("signed in", "tenant", acct.TenantID)
	a.st.account = &acct
	a.st.signIn = apitype.SignedIn
	a.clearProblemsLocked(apitype.CodeNotSignedIn, apitype.CodeSignInExpired, apitype.CodeConsentRequired)
	a.changedLocked()
	queues := a.uploadQueuesLocked()
	a.mu.Unlock()
	// Changes that failed while the sign-in was lost (CAE revocation, an
	// expired refresh token) have backed off for up to minutes; with a
	// new sign-in they go now, on every drive, mounted or draining.
	for _, m := range queues {
		m.WakeUploads()
	}
	a.Refresh()
}

// WaitLogin implements localapi.Sessions.
func (a *Agent) WaitLogin(ctx context.Context) (apitype.Account, error) {
	a.mu.Lock()
	run := a.st.login
	acct := a.st.account
	a.mu.Unlock()
	if run == nil {
		if acct != nil {
			return *acct, nil
		}
		return apitype.Account{}, apitype.NewError(apitype.CodeNotSignedIn, "no sign-in is in progress", "Start one with `mapdrive login`.")
	}
	select {
	case <-run.done:
	case <-ctx.Done():
		return apitype.Account{}, ctx.Err()
	}
	if run.err != nil {
		return apitype.Account{}, loginProblem(run.err)
	}
	return run.acct, nil
}

// logoutWait bounds how long sign-out waits for changes not uploaded
// yet, with the tokens still valid. What is left after it stays in the
// account's encrypted cache, its session URLs sealed, and is sent when
// the same account signs in again; it is never dropped.
const logoutWait = 15 * time.Second

// Logout implements localapi.Sessions: it unmounts every drive, waits up
// to logoutWait for pending uploads (unless uploads are paused), removes
// the tokens, forgets the stored lease and mappings, and wipes the
// account's caches but for the drives that still hold changes not
// uploaded. It returns what it tells the user.
func (a *Agent) Logout(ctx context.Context) (string, error) {
	if a.o.Auth == nil {
		return "", a.notConfigured()
	}
	a.mu.Lock()
	if run := a.st.login; run != nil {
		run.cancel()
	}
	a.st.signingOut = true
	acct, paused := a.st.account, a.st.paused
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		a.st.signingOut = false
		a.mu.Unlock()
	}()
	a.unmountAll(ctx)
	if acct != nil && !paused {
		a.flushForLogout(ctx)
	}
	a.stopAllDrains(ctx)
	if err := a.o.Auth.Logout(ctx); err != nil {
		return "", problem("sign out", err)
	}
	if a.o.Service != nil {
		if err := a.o.Service.Forget(); err != nil {
			a.log.Warn("could not delete the stored lease", "err", err)
		}
	}
	a.mu.Lock()
	busy := map[string]bool{}
	for _, d := range a.st.drives {
		if d.mount != nil {
			busy[safeName(d.remote.ID)] = true
		}
	}
	a.st.account = nil
	a.st.signIn = apitype.SignedOut
	a.st.licence = apitype.Licence{State: apitype.LicenceUnknown}
	a.st.drives = map[string]*drive{}
	a.st.userUnmounted = map[string]bool{}
	a.st.problems = nil
	// Pins name the account's folders.
	a.st.settings.Pins = []apitype.Pin{}
	a.saveSettingsLocked()
	a.changedLocked()
	a.mu.Unlock()
	a.forgetAccountState()
	msg := "Signed out. Drives are unmounted, the tokens are removed from the keyring and the cached files are deleted."
	if acct == nil {
		a.log.Info("signed out")
		return msg, nil
	}
	kept, err := a.wipeAccount(accountID(*acct), busy)
	if err != nil {
		a.log.Warn("could not wipe the account's cache", "err", err)
	}
	if kept > 0 {
		a.log.Info("signed out; changes not uploaded are kept for the next sign-in of this account", "pending", kept)
		return fmt.Sprintf("Signed out. %d change(s) could not be uploaded in time: they stay encrypted on this computer "+
			"and upload when you sign in again with this account; nobody else signing in here gets them. "+
			"The rest of the cache is deleted.", kept), nil
	}
	if err != nil {
		return "", problem("delete the cached files", err)
	}
	a.log.Info("signed out")
	return msg, nil
}

// flushForLogout sends what the unmounted drives have not uploaded yet,
// for up to logoutWait.
func (a *Agent) flushForLogout(ctx context.Context) {
	a.mu.Lock()
	for _, d := range a.st.drives {
		d.journalEmpty = false
	}
	a.mu.Unlock()
	a.drainUnmounted(ctx)
	ctx, cancel := context.WithTimeout(ctx, logoutWait)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		a.retireDrains(ctx)
		a.mu.Lock()
		left := 0
		for _, d := range a.st.drives {
			if d.drain != nil {
				left++
			}
		}
		a.mu.Unlock()
		if left == 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// WhoAmI implements localapi.Sessions.
func (a *Agent) WhoAmI(ctx context.Context) (apitype.Account, error) {
	if a.o.Auth == nil {
		return apitype.Account{}, a.notConfigured()
	}
	acct, err := a.o.Auth.Account(ctx)
	if err != nil {
		if errors.Is(err, failure.SignedOut) {
			return apitype.Account{}, apitype.NewError(apitype.CodeNotSignedIn, "you are not signed in",
				"Sign in with `mapdrive login` (or `mapdrive login --device-code` on a machine without a browser).")
		}
		return apitype.Account{}, problem("read the signed-in account", err)
	}
	return acct, nil
}

// loginProblem explains a failed sign-in; an unclassified failure is most
// often a wrong authority or client id.
func loginProblem(err error) *apitype.Error {
	p := problem("sign in", err)
	if p.Code == apitype.CodeInternal {
		e := *p
		e.Action = "Check the authority, client_id and ca_file settings (shown under detail by `mapdrive status --json`), then run `mapdrive login` again."
		return &e
	}
	return p
}
