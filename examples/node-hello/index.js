// A greeting function: sluice deploy node-hello --runtime nodejs --handler index.handler.

// requestBody returns the JSON body of a function-URL request event, or undefined for a direct invocation.
function requestBody(event) {
  if (typeof event.body !== "string" || event.body === "") return undefined;
  const text = event.isBase64Encoded ? Buffer.from(event.body, "base64").toString("utf8") : event.body;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

exports.handler = async (event, context) => {
  if (event === null || typeof event !== "object") event = {};
  const body = requestBody(event);
  if (body !== null && typeof body === "object") event = body; // called through its function URL
  const name = event.name || "world";
  console.log(`saying hello to ${name}`);
  return { message: `Hello, ${name}!`, runtime: "nodejs" };
};
