package api

import (
	"net/http"
	"strconv"

	"github.com/mapdrive/mapdrive/service/internal/authn"
	"github.com/mapdrive/mapdrive/service/internal/httpx"
	"github.com/mapdrive/mapdrive/shared/apitype"
)

// audit records an admin action under the actor's pseudonym. A failed
// audit write fails the request: admin actions are not unaudited.
func (s *Server) recordAudit(r *http.Request, p *authn.Principal, action, target string) error {
	return s.st.Audit(r.Context(), p.TenantID, s.st.Secrets().Actor(p.TenantID, p.ObjectID), action, target)
}

func (s *Server) getTenant(w http.ResponseWriter, r *http.Request, p *authn.Principal) error {
	t, err := s.st.Tenant(r.Context(), p.TenantID)
	if err != nil {
		return storeError(err)
	}
	used, err := s.st.SeatsUsed(r.Context(), p.TenantID)
	if err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusOK, t.API(used))
}

func (s *Server) deleteTenant(w http.ResponseWriter, r *http.Request, p *authn.Principal) error {
	if err := s.st.DeleteTenant(r.Context(), p.TenantID); err != nil {
		return storeError(err)
	}
	// The tenant's audit log is erased with it; the operator log keeps the
	// fact, under the tenant id and the actor's pseudonym.
	s.cfg.Log.InfoContext(r.Context(), "tenant erased", "tenant", p.TenantID, "actor", s.st.Secrets().Actor(p.TenantID, p.ObjectID))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) listMappings(w http.ResponseWriter, r *http.Request, p *authn.Principal) error {
	ms, err := s.st.Mappings(r.Context(), p.TenantID)
	if err != nil {
		return storeError(err)
	}
	if ms == nil {
		ms = []apitype.AdminMapping{}
	}
	return httpx.WriteJSON(w, http.StatusOK, apitype.AdminMappingList{Mappings: ms})
}

func (s *Server) createMapping(w http.ResponseWriter, r *http.Request, p *authn.Principal) error {
	var m apitype.AdminMapping
	if err := httpx.DecodeJSON(w, r, &m, s.cfg.MaxBody); err != nil {
		return err
	}
	m, err := s.st.CreateMapping(r.Context(), p.TenantID, m)
	if err != nil {
		return storeError(err)
	}
	if err := s.recordAudit(r, p, "mapping.create", m.ID); err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusCreated, m)
}

func (s *Server) getMapping(w http.ResponseWriter, r *http.Request, p *authn.Principal) error {
	m, err := s.st.Mapping(r.Context(), p.TenantID, r.PathValue("id"))
	if err != nil {
		return storeError(err)
	}
	return httpx.WriteJSON(w, http.StatusOK, m)
}

func (s *Server) updateMapping(w http.ResponseWriter, r *http.Request, p *authn.Principal) error {
	var m apitype.AdminMapping
	if err := httpx.DecodeJSON(w, r, &m, s.cfg.MaxBody); err != nil {
		return err
	}
	m.ID = r.PathValue("id")
	m, err := s.st.UpdateMapping(r.Context(), p.TenantID, m)
	if err != nil {
		return storeError(err)
	}
	if err := s.recordAudit(r, p, "mapping.update", m.ID); err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusOK, m)
}

func (s *Server) deleteMapping(w http.ResponseWriter, r *http.Request, p *authn.Principal) error {
	id := r.PathValue("id")
	if err := s.st.DeleteMapping(r.Context(), p.TenantID, id); err != nil {
		return storeError(err)
	}
	if err := s.recordAudit(r, p, "mapping.delete", id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) reorder(w http.ResponseWriter, r *http.Request, p *authn.Principal) error {
	var req apitype.ReorderRequest
	if err := httpx.DecodeJSON(w, r, &req, s.cfg.MaxBody); err != nil {
		return err
	}
	if err := s.st.ReorderMappings(r.Context(), p.TenantID, req.IDs); err != nil {
		return storeError(err)
	}
	if err := s.recordAudit(r, p, "mapping.reorder", ""); err != nil {
		return err
	}
	return s.listMappings(w, r, p)
}

func (s *Server) getPolicies(w http.ResponseWriter, r *http.Request, p *authn.Principal) error {
	t, err := s.st.Tenant(r.Context(), p.TenantID)
	if err != nil {
		return storeError(err)
	}
	return httpx.WriteJSON(w, http.StatusOK, t.Policies)
}

func (s *Server) putPolicies(w http.ResponseWriter, r *http.Request, p *authn.Principal) error {
	var pol apitype.Policies
	if err := httpx.DecodeJSON(w, r, &pol, s.cfg.MaxBody); err != nil {
		return err
	}
	if err := s.st.SetPolicies(r.Context(), p.TenantID, pol); err != nil {
		return storeError(err)
	}
	if err := s.recordAudit(r, p, "policies.update", ""); err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusOK, pol)
}

func (s *Server) audit(w http.ResponseWriter, r *http.Request, p *authn.Principal) error {
	limit := 200
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			return httpx.Errorf(http.StatusBadRequest, apitype.ServiceCodeBadRequest, "limit must be 1..10000")
		}
		limit = n
	}
	es, err := s.st.AuditLog(r.Context(), p.TenantID, r.URL.Query().Get("action"), limit)
	if err != nil {
		return storeError(err)
	}
	return httpx.WriteJSON(w, http.StatusOK, apitype.AuditList{Entries: es})
}

func (s *Server) export(w http.ResponseWriter, r *http.Request, p *authn.Principal) error {
	exp, err := s.st.Export(r.Context(), p.TenantID)
	if err != nil {
		return storeError(err)
	}
	if err := s.recordAudit(r, p, "tenant.export", ""); err != nil {
		return err
	}
	w.Header().Set("Content-Disposition", `attachment; filename="mapdrive-export-`+p.TenantID+`.json"`)
	return httpx.WriteJSON(w, http.StatusOK, exp)
}

func (s *Server) seatUsage(w http.ResponseWriter, r *http.Request, p *authn.Principal) error {
	days := 90
	if v := r.URL.Query().Get("days"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 3660 {
			return httpx.Errorf(http.StatusBadRequest, apitype.ServiceCodeBadRequest, "days must be 1..3660")
		}
		days = n
	}
	t, err := s.st.Tenant(r.Context(), p.TenantID)
	if err != nil {
		return storeError(err)
	}
	us, err := s.st.SeatUsage(r.Context(), p.TenantID, days)
	if err != nil {
		return storeError(err)
	}
	return httpx.WriteJSON(w, http.StatusOK, apitype.SeatUsageList{Seats: t.Seats, Days: us})
}
