// Package route is the HTTP trigger kind: routes (events.HTTPSpec in the sluice_triggers bucket)
// that invoke a function when a request matches them, and the event an HTTP request becomes.
//
// It owns what is particular to the kind:
//   - Compile checks a spec and splits its path; Factory is the kind's trigger.Factory, so the
//     API refuses a bad route when it is added and the adapters role reports it as running.
//   - Table is the live set of routes, loaded from the bucket and followed until Close.
//     Table.Find matches a path to its routes, best first: a {name} parameter takes one segment,
//     {name+} as the last one the rest of the path; the route with the most literal segments
//     wins, then the smaller trigger id. Pick chooses the route of a method among them.
//   - CORS: a route's origins ("*" for any) get Access-Control-Allow-Origin (Route.AllowOrigin),
//     and Preflight answers the headers of an OPTIONS request with
//     Access-Control-Request-Method.
//   - The event: NewEvent maps a request to event data in the shape of an AWS Lambda function
//     URL request (payload format 2.0), which function URLs use as well; Match.Event adds the
//     route's routeKey ("METHOD PATH") and pathParameters; Route.Source is the CloudEvent source,
//     /sluice/route/<trigger id>. The type is events.TypeHTTPRequest (docs/design.md §4).
//
// What stays in the gateway (services/gateway): listening, the token, reading the body, and
// making and publishing the CloudEvent. An HTTP route answers its caller with the function's
// result, so its event goes through the gateway's invocation path (the version the call resolves
// to, the caller's deadline, the reply inbox it waits on) rather than through a trigger.Publisher.
// So the adapter Factory returns publishes nothing: it reports the route as running until its
// trigger is changed or deleted.
package route
