export const handler = async (event, context) => ({ esm: true, id: context.awsRequestId, event });
