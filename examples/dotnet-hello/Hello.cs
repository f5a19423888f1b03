// A greeting function: sluice deploy dotnet-hello --runtime dotnet --handler Example.Hello::Handle
// --source examples/dotnet-hello (the .cs sources are compiled at deploy with mcs).
using System;
using System.Collections.Generic;
using System.Text;
using System.Web.Script.Serialization;
using Sluice.Runtime;

namespace Example
{
    public class Hello
    {
        public object Handle(Dictionary<string, object> evt, ILambdaContext context)
        {
            object name;
            evt.TryGetValue("name", out name);
            object body;
            if (evt.TryGetValue("body", out body) && body is string text && text.Length > 0)
            {
                // Called through its function URL: the event is the HTTP request; its body is the JSON.
                object b64;
                if (evt.TryGetValue("isBase64Encoded", out b64) && b64 is bool encoded && encoded)
                    text = Encoding.UTF8.GetString(Convert.FromBase64String(text));
                try
                {
                    if (new JavaScriptSerializer().DeserializeObject(text) is Dictionary<string, object> json)
                        json.TryGetValue("name", out name);
                }
                catch (ArgumentException) { }
            }
            var who = name as string;
            if (string.IsNullOrEmpty(who)) who = "world";
            context.Logger.LogLine("saying hello to " + who);
            return new Dictionary<string, object> { { "message", "Hello, " + who + "!" }, { "runtime", "dotnet" } };
        }
    }
}
