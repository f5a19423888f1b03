using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;

namespace Hostile
{
    /// <summary>Hostile handlers of the dotnet runtime: each returns what the process can see or do.</summary>
    public static class Main
    {
        // Who the process is and what it sees.
        public static Dictionary<string, object> Ids(object evt)
        {
            var m = new Dictionary<string, object>();
            foreach (var line in File.ReadAllLines("/proc/self/status"))
                if (line.StartsWith("Uid:")) m["uid"] = int.Parse(line.Split(new[] { ' ', '\t' }, StringSplitOptions.RemoveEmptyEntries)[1]);
            m["cwd"] = Environment.CurrentDirectory;
            m["task_root"] = Environment.GetEnvironmentVariable("LAMBDA_TASK_ROOT");
            m["task"] = Directory.Exists("/var/task")
                ? Directory.GetFileSystemEntries("/var/task").Select(Path.GetFileName).OrderBy(s => s, StringComparer.Ordinal).ToArray()
                : new string[0];
            var cmd = File.ReadAllText("/proc/1/cmdline");
            m["pid1"] = cmd.Contains('\0') ? cmd.Substring(0, cmd.IndexOf('\0')) : cmd;
            return m;
        }

        // Reads event["path"]: {ok, value} or {ok: false, message}.
        public static Dictionary<string, object> Read(Dictionary<string, object> evt)
        {
            try
            {
                return new Dictionary<string, object> { { "ok", true }, { "value", File.ReadAllText((string)evt["path"]) } };
            }
            catch (Exception e)
            {
                return new Dictionary<string, object> { { "ok", false }, { "message", e.GetType().Name + ": " + e.Message } };
            }
        }
    }
}
