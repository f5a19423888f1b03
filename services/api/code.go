package api

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"unicode/utf8"

	"github.com/gorilla/mux"

	"sluice.dev/services/api/wire"
	"sluice.dev/services/httpjson"
)

func (a *API) code(w http.ResponseWriter, r *http.Request) {
	name := mux.Vars(r)["name"]
	q := r.URL.Query()
	n := 0
	if s := q.Get("version"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n < 1 {
			httpjson.Error(w, http.StatusBadRequest, CodeInvalid, "version %q: use a version number, or leave it out for the latest", s)
			return
		}
	}
	if file := q.Get("file"); file != "" {
		v, b, err := a.reg.File(r.Context(), name, n, file)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		out := wire.CodeFile{Function: name, Version: v.Version, File: file, Size: len(b), Content: string(b)}
		if !utf8.Valid(b) {
			out.Content, out.Encoding = base64.StdEncoding.EncodeToString(b), "base64"
		}
		httpjson.Write(w, http.StatusOK, out)
		return
	}
	v, files, err := a.reg.Files(r.Context(), name, n)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if files == nil {
		files = []wire.FileInfo{}
	}
	httpjson.Write(w, http.StatusOK, wire.CodeFiles{Function: name, Version: v.Version, SHA256: v.Source().SHA256, Files: files})
}

func (a *API) editCode(w http.ResponseWriter, r *http.Request) {
	httpjson.Extend(w, longRequest) // the new version may be built
	name := mux.Vars(r)["name"]
	var req wire.EditRequest
	if !decodeStrict(w, r, wire.MaxDeployBytes, &req) {
		return
	}
	if req.File == "" {
		httpjson.Error(w, http.StatusBadRequest, CodeInvalid, `give the file to replace: {"file": "main.py", "content": "..."}`)
		return
	}
	v, err := a.reg.EditFile(r.Context(), name, req.File, []byte(req.Content), req.Version)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.log.InfoContext(r.Context(), "function code edited", "function", name, "version", v.Version, "file", req.File, "sha256", v.Code.SHA256)
	httpjson.Write(w, http.StatusCreated, v)
}
