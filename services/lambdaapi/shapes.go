package lambdaapi

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"sluice.dev/events"
)

// account is the account id in the ARNs sluice answers with: a node has one.
const account = "000000000000"

// defaultRegion names the region of ARNs when the request's signature names none.
const defaultRegion = "us-east-1"

// latest is Lambda's name for the newest version.
const latest = "$LATEST"

// FunctionCode is the code of CreateFunction and UpdateFunctionCode: a ZIP (base64 in JSON).
type FunctionCode struct {
	ZipFile  []byte `json:"ZipFile,omitempty"`
	S3Bucket string `json:"S3Bucket,omitempty"`
	S3Key    string `json:"S3Key,omitempty"`
	ImageURI string `json:"ImageUri,omitempty"`
}

// Environment holds a function's variables.
type Environment struct {
	Variables map[string]string `json:"Variables"`
}

// createRequest is CreateFunction's body; fields sluice has no use for are accepted and ignored
// (Role, Tags, VpcConfig, ...), as a Lambda user's scripts send them.
type createRequest struct {
	FunctionName string       `json:"FunctionName"`
	Runtime      string       `json:"Runtime"`
	Handler      string       `json:"Handler"`
	Code         FunctionCode `json:"Code"`
	Description  string       `json:"Description"`
	Timeout      int          `json:"Timeout"`
	MemorySize   int          `json:"MemorySize"`
	Environment  *Environment `json:"Environment"`
	Publish      bool         `json:"Publish"`
	PackageType  string       `json:"PackageType"`
}

// updateCodeRequest is UpdateFunctionCode's body.
type updateCodeRequest struct {
	FunctionCode
	Publish bool `json:"Publish"`
	DryRun  bool `json:"DryRun"`
}

// updateConfigRequest is UpdateFunctionConfiguration's body: a nil field keeps its value.
type updateConfigRequest struct {
	Runtime     *string      `json:"Runtime"`
	Handler     *string      `json:"Handler"`
	Description *string      `json:"Description"`
	Timeout     *int         `json:"Timeout"`
	MemorySize  *int         `json:"MemorySize"`
	Environment *Environment `json:"Environment"`
}

// FunctionConfiguration is Lambda's description of one version of a function.
type FunctionConfiguration struct {
	FunctionName     string       `json:"FunctionName"`
	FunctionArn      string       `json:"FunctionArn"`
	Runtime          string       `json:"Runtime"`
	Role             string       `json:"Role"`
	Handler          string       `json:"Handler"`
	CodeSize         int64        `json:"CodeSize"`
	CodeSha256       string       `json:"CodeSha256"`
	Description      string       `json:"Description"`
	Timeout          int          `json:"Timeout"`
	MemorySize       int          `json:"MemorySize"`
	LastModified     string       `json:"LastModified"`
	Version          string       `json:"Version"`
	Environment      *Environment `json:"Environment,omitempty"`
	State            string       `json:"State"`
	LastUpdateStatus string       `json:"LastUpdateStatus"`
	PackageType      string       `json:"PackageType"`
	Architectures    []string     `json:"Architectures"`
	RevisionID       string       `json:"RevisionId"`
}

// getFunctionResponse is GetFunction's answer.
type getFunctionResponse struct {
	Configuration FunctionConfiguration `json:"Configuration"`
	Code          codeLocation          `json:"Code"`
	Concurrency   concurrencyBody       `json:"Concurrency"`
}

type codeLocation struct {
	RepositoryType string `json:"RepositoryType"`
	Location       string `json:"Location"`
}

type listFunctionsResponse struct {
	Functions  []FunctionConfiguration `json:"Functions"`
	NextMarker *string                 `json:"NextMarker"`
}

type listVersionsResponse struct {
	Versions   []FunctionConfiguration `json:"Versions"`
	NextMarker *string                 `json:"NextMarker"`
}

// arn is the ARN of a function, with its qualifier when not empty.
func arn(region, fn, qualifier string) string {
	s := "arn:aws:lambda:" + region + ":" + account + ":function:" + fn
	if qualifier != "" {
		s += ":" + qualifier
	}
	return s
}

// configuration describes version v of its function as Lambda would; asLatest names it $LATEST
// (the newest version, as GetFunction without a qualifier shows it).
func configuration(region string, v events.Version, asLatest bool, updated time.Time) FunctionConfiguration {
	cfg := v.Config
	version, qualifier := strconv.Itoa(v.Version), strconv.Itoa(v.Version)
	if asLatest {
		version, qualifier = latest, "" // $LATEST's ARN is the function's own
	}
	at := v.Created
	if asLatest && updated.After(at) {
		at = updated
	}
	c := FunctionConfiguration{
		FunctionName: v.Function, FunctionArn: arn(region, v.Function, qualifier),
		Runtime: lambdaRuntime(cfg), Role: "arn:aws:iam::" + account + ":role/sluice",
		Handler: cfg.Handler, CodeSize: v.Code.Size, CodeSha256: codeSHA(v.Code.SHA256),
		Description: cfg.Description, Timeout: int(cfg.Timeout.D() / time.Second), MemorySize: cfg.MemoryMB,
		LastModified: at.UTC().Format("2006-01-02T15:04:05.000-0700"), Version: version,
		State: "Active", LastUpdateStatus: "Successful", PackageType: "Zip", Architectures: []string{"x86_64"},
		RevisionID: revision(v),
	}
	if len(cfg.Env) > 0 {
		c.Environment = &Environment{Variables: cfg.Env}
	}
	return c
}

// codeSHA turns sluice's hex SHA-256 of a package into Lambda's base64 form.
func codeSHA(hexSum string) string {
	b, err := hex.DecodeString(hexSum)
	if err != nil {
		return hexSum
	}
	return base64.StdEncoding.EncodeToString(b)
}

// revision is a version's RevisionId: it changes with every deploy.
func revision(v events.Version) string {
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s/%d/%d", v.Function, v.Version, v.Created.UnixNano())))
	h := hex.EncodeToString(sum[:16])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// functionName reads a FunctionName parameter: a name, NAME:QUALIFIER, or a function ARN (with
// or without its qualifier).
func functionName(s string) (name, qualifier string) {
	if rest, ok := strings.CutPrefix(s, "arn:aws:lambda:"); ok {
		parts := strings.Split(rest, ":") // region, account, "function", name[, qualifier]
		if len(parts) >= 4 && parts[2] == "function" {
			name = parts[3]
			if len(parts) == 5 {
				qualifier = parts[4]
			}
			return name, qualifier
		}
		return s, ""
	}
	name, qualifier, _ = strings.Cut(s, ":")
	return name, qualifier
}
