//! Data-driven tests: (template, data, expected output or error), with the
//! expected texts taken from Go's text/template and docker's templates.go.

use berth_template::{Env, GoField, Missing, Template};
use serde_json::{Value, json};

/// Which hooks a case runs with.
#[derive(Clone, Copy, Debug)]
enum E {
    /// Plain JSON semantics (`Template::execute`).
    Plain,
    /// A docker-like env: a `Label` method on rows with `Labels`, nil
    /// slices/maps for some fields, struct errors for missing fields.
    Docker,
    /// `missingkey=error`, as docker's `inspect` raw fallback.
    MapError,
    /// Go structs: objects with a `B` key are a struct `main.T` (fields B,
    /// A, an embedded `Inner` with C, a pointer P) with its own JSON; a
    /// null `N` is a nil interface.
    Struct,
}

struct DockerEnv;

impl Env for DockerEnv {
    fn call_method(
        &self,
        receiver: &Value,
        name: &str,
        args: &[Value],
    ) -> Option<Result<Value, String>> {
        if name != "Label" || receiver.get("Labels").is_none() {
            return None;
        }
        let [Value::String(k)] = args else {
            return Some(Err(format!(
                "wrong number of args for Label: want 1 got {}",
                args.len()
            )));
        };
        Some(Ok(receiver["Labels"]
            .get(k)
            .cloned()
            .unwrap_or_else(|| Value::String(String::new()))))
    }

    fn nil_text(&self, field: &str) -> Option<String> {
        match field {
            "Mounts" | "Args" => Some("[]".into()),
            "Labels" => Some("map[]".into()),
            _ => None,
        }
    }

    fn missing_field(&self, receiver: &Value, field: &str) -> Missing {
        let _ = (receiver, field);
        Missing::Field("*formatter.ContainerContext".into())
    }
}

struct MapErrorEnv;

impl Env for MapErrorEnv {
    fn missing_field(&self, _: &Value, _: &str) -> Missing {
        Missing::Error
    }
}

struct StructEnv;

impl Env for StructEnv {
    fn struct_fields(&self, v: &Value) -> Option<Vec<GoField>> {
        v.get("B")?;
        let named = |n: &str| GoField::Named(n.to_string());
        Some(vec![
            named("B"),
            named("A"),
            GoField::Embedded("Inner".into(), vec![named("C")]),
            named("P"),
        ])
    }

    fn missing_field(&self, receiver: &Value, _: &str) -> Missing {
        if receiver.get("B").is_some() {
            Missing::Field("main.T".into())
        } else {
            Missing::NoValue
        }
    }

    fn marshal_json(&self, v: &Value) -> Option<String> {
        v.get("B").map(|_| "custom".to_string())
    }

    fn nil_text(&self, field: &str) -> Option<String> {
        (field == "N").then(|| "<no value>".to_string())
    }
}

fn run(tmpl: &str, data: &Value, env: E) -> Result<String, String> {
    let t = Template::parse(tmpl).map_err(|e| e.to_string())?;
    let r = match env {
        E::Plain => t.execute(data),
        E::Docker => t.execute_with(data, &DockerEnv),
        E::MapError => t.execute_with(data, &MapErrorEnv),
        E::Struct => t.execute_with(data, &StructEnv),
    };
    r.map_err(|e| e.to_string())
}

const OK: bool = true;
const ERR: bool = false;

/// (template, data, env, ok?, expected output or error text)
#[rustfmt::skip]
fn cases() -> Vec<(&'static str, Value, E, bool, &'static str)> {
    use E::*;
    let row = json!({
        "ID": "abcdef123456", "Name": "web", "Names": "/web",
        "RepoTags": ["nginx:latest", "nginx:1.25"],
        "RepoDigests": ["nginx@sha256:aaa", "nginx@sha256:bbb"],
        "Args": ["-g", "daemon off;"],
        "Mounts": [{"Type": "bind"}, {"Type": "volume"}],
        "State": {"Running": false, "Pid": 0, "Status": "exited"},
        "Config": {"Labels": {"a": "1", "b": "2"}, "Env": ["X=1"], "Cmd": null},
        "Labels": {"com.example.x": "val", "b": "2"},
        "Size": 1.5, "Big": 1000000.0, "Count": 1000000, "Nil": null,
        "Empty": [], "EmptyMap": {}, "EmptyStr": "", "Zero": 0, "True": true
    });
    let st = json!({
        "S": {"A": 1, "B": "x", "C": true, "P": null},
        "L": [{"A": 1, "B": "x", "C": true, "P": null}],
        "M": {"k": "v", "N": null}
    });
    vec![
        // --- text, fields, printing -------------------------------------
        ("plain text", json!({}), Plain, OK, "plain text"),
        ("{{.Name}}", row.clone(), Plain, OK, "web"),
        ("{{ .Name }}", row.clone(), Plain, OK, "web"),
        ("{{.State.Status}}", row.clone(), Plain, OK, "exited"),
        ("{{.State.Running}}", row.clone(), Plain, OK, "false"),
        ("{{.Nope}}", row.clone(), Plain, OK, "<no value>"),
        ("{{.Nope.Deeper}}", row.clone(), Plain, OK, "<no value>"),
        ("{{.}}", json!("hello"), Plain, OK, "hello"),
        ("{{.}}", json!([1, "a", true, null]), Plain, OK, "[1 a true <nil>]"),
        ("{{.}}", json!({"b": 1, "a": "x", "c": {"d": [1]}}), Plain, OK, "map[a:x b:1 c:map[d:[1]]]"),
        ("{{.}}", json!(null), Plain, OK, "<no value>"),
        ("{{.Size}} {{.Big}} {{.Count}}", row.clone(), Plain, OK, "1.5 1e+06 1000000"),
        ("{{.Nil}}", row.clone(), Plain, OK, "<nil>"),
        ("{{.RepoTags}}", row.clone(), Plain, OK, "[nginx:latest nginx:1.25]"),
        ("{{.Config.Labels}}", row.clone(), Plain, OK, "map[a:1 b:2]"),
        ("{{.Config}}", row.clone(), Plain, OK, "map[Cmd:<nil> Env:[X=1] Labels:map[a:1 b:2]]"),
        // --- trim markers, comments, literals ---------------------------
        ("a  {{- .Name -}}  \n b", row.clone(), Plain, OK, "awebb"),
        ("a {{.Name -}}\n\tb", row.clone(), Plain, OK, "a webb"),
        ("x{{/* a comment */}}y", json!({}), Plain, OK, "xy"),
        ("x \n{{- /* c */ -}}\n y", json!({}), Plain, OK, "xy"),
        ("{{\"a\\tb\\u00e9\"}}|{{`raw\\n`}}", json!({}), Plain, OK, "a\tbé|raw\\n"),
        ("{{'a'}} {{1.5}} {{0x1F}} {{1e3}} {{-7}} {{1_000}}", json!({}), Plain, OK, "97 1.5 31 1000 -7 1000"),
        ("{{true}} {{false}}", json!({}), Plain, OK, "true false"),
        ("{{\n.Name\n}}", row.clone(), Plain, OK, "web"),
        // --- variables ---------------------------------------------------
        ("{{$x := .Name}}{{$x}}", row.clone(), Plain, OK, "web"),
        ("{{$x := 1}}{{$x = 2}}{{$x}}", json!({}), Plain, OK, "2"),
        ("{{$x := 1}}{{if true}}{{$x := 2}}{{end}}{{$x}}", json!({}), Plain, OK, "1"),
        ("{{with .State}}{{$.Name}}:{{.Status}}{{end}}", row.clone(), Plain, OK, "web:exited"),
        ("{{$s := .State}}{{$s.Status}}", row.clone(), Plain, OK, "exited"),
        ("{{range $i, $e := .RepoTags}}{{$i}}={{$e}} {{end}}", row.clone(), Plain, OK, "0=nginx:latest 1=nginx:1.25 "),
        ("{{range $k, $v := .Labels}}{{$k}}={{$v}};{{end}}", row.clone(), Plain, OK, "b=2;com.example.x=val;"),
        ("{{range $v := .Args}}<{{$v}}>{{end}}", row.clone(), Plain, OK, "<-g><daemon off;>"),
        // --- control -----------------------------------------------------
        ("{{range .RepoTags}}{{.}} {{end}}", row.clone(), Plain, OK, "nginx:latest nginx:1.25 "),
        ("{{range .Empty}}x{{else}}empty{{end}}", row.clone(), Plain, OK, "empty"),
        ("{{range .Nope}}x{{else}}none{{end}}", row.clone(), Plain, OK, "none"),
        ("{{range .Config.Labels}}{{.}},{{end}}", row.clone(), Plain, OK, "1,2,"),
        ("{{range .L}}{{if eq . 2}}{{break}}{{end}}{{.}}{{end}}", json!({"L": [1, 2, 3]}), Plain, OK, "1"),
        ("{{range .L}}{{if eq . 2}}{{continue}}{{end}}{{.}}{{end}}", json!({"L": [1, 2, 3]}), Plain, OK, "13"),
        ("{{range 3}}{{.}}{{end}}", json!({}), Plain, OK, "012"),
        ("{{if .State.Running}}up{{else}}down{{end}}", row.clone(), Plain, OK, "down"),
        ("{{if .A}}a{{else if .B}}b{{else}}c{{end}}", json!({"B": 1}), Plain, OK, "b"),
        ("{{if .Empty}}t{{else}}f{{end}}{{if .EmptyMap}}t{{else}}f{{end}}{{if .EmptyStr}}t{{else}}f{{end}}{{if .Zero}}t{{else}}f{{end}}{{if .Nil}}t{{else}}f{{end}}{{if .True}}t{{else}}f{{end}}", row.clone(), Plain, OK, "ffffft"),
        ("{{with .Config.Labels}}{{index . \"a\"}}{{end}}", row.clone(), Plain, OK, "1"),
        ("{{with .Nope}}x{{else with .Name}}{{.}}{{else}}none{{end}}", row.clone(), Plain, OK, "web"),
        ("{{with $v := .Name}}{{$v}}{{end}}", row.clone(), Plain, OK, "web"),
        ("{{with .Nope}}x{{else}}no{{end}}", row.clone(), Plain, OK, "no"),
        // --- functions ---------------------------------------------------
        ("{{index .RepoDigests 0}}", row.clone(), Plain, OK, "nginx@sha256:aaa"),
        ("{{index .Config.Labels \"b\"}}", row.clone(), Plain, OK, "2"),
        ("[{{index .Config.Labels \"zz\"}}]", row.clone(), Plain, OK, "[]"),
        ("{{index .State \"zz\"}}", row.clone(), Plain, OK, "<no value>"),
        ("{{index .N 1 0}}", json!({"N": [[1], [2, 3]]}), Plain, OK, "2"),
        ("{{index \"hi\" 1}}", json!({}), Plain, OK, "105"),
        ("{{(index .Mounts 1).Type}}", row.clone(), Plain, OK, "volume"),
        ("{{len .Mounts}} {{len .Name}} {{len .Labels}} {{len \"héllo\"}}", row.clone(), Plain, OK, "2 3 2 6"),
        ("{{slice .RepoTags 1}} {{slice .Name 1 2}}", row.clone(), Plain, OK, "[nginx:1.25] e"),
        ("{{join .Args \",\"}}", row.clone(), Plain, OK, "-g,daemon off;"),
        ("{{json .Config}}", row.clone(), Plain, OK, "{\"Cmd\":null,\"Env\":[\"X=1\"],\"Labels\":{\"a\":\"1\",\"b\":\"2\"}}"),
        ("{{json .Name}} {{json .Nope}} {{json .Size}} {{json 3}}", row.clone(), Plain, OK, "\"web\" null 1.5 3"),
        ("{{json .}}", json!({"h": "<b>&</b>", "f": 2.0}), Plain, OK, "{\"f\":2,\"h\":\"<b>&</b>\"}"),
        ("{{split .Names \"/\"}}", row.clone(), Plain, OK, "[ web]"),
        ("{{range split \"a:b\" \":\"}}[{{.}}]{{end}}", json!({}), Plain, OK, "[a][b]"),
        ("{{title \"hello world\"}}", json!({}), Plain, OK, "Hello World"),
        ("{{lower \"ABC\"}} {{upper .Name}}", row.clone(), Plain, OK, "abc WEB"),
        ("[{{pad .Name 1 2}}][{{pad \"\" 1 1}}]", row.clone(), Plain, OK, "[ web  ][]"),
        ("{{truncate .ID 5}} {{truncate \"ab\" 5}}", row.clone(), Plain, OK, "abcde ab"),
        ("{{println .Name .Zero}}", row.clone(), Plain, OK, "web 0\n"),
        ("{{print \"a\" 1 2 \"b\" .Nope}}", row.clone(), Plain, OK, "a1 2b<nil>"),
        ("{{printf \"%-10s|\" .Name}}", row.clone(), Plain, OK, "web       |"),
        ("{{printf \"%10s|%5.2f|%05d|%x|%X|%o|%t\" .Name 3.14159 42 255 255 8 true}}", row.clone(), Plain, OK, "       web| 3.14|00042|ff|FF|10|true"),
        ("{{printf \"%q %v %+v %d\" .Name .RepoTags .Config.Labels 7}}", row.clone(), Plain, OK, "\"web\" [nginx:latest nginx:1.25] map[a:1 b:2] 7"),
        ("{{printf \"%s %d\" 3}}", json!({}), Plain, OK, "%!s(int=3) %!d(MISSING)"),
        ("{{printf \"%v|%6.1f|%e|%g\" .Size .Size .Size .Big}}", row.clone(), Plain, OK, "1.5|   1.5|1.500000e+00|1e+06"),
        ("{{.Name | upper}}", row.clone(), Plain, OK, "WEB"),
        ("{{.Name | printf \"%s-%s\" \"x\"}}", row.clone(), Plain, OK, "x-web"),
        ("{{.Name | printf \"%s\" | len}}", row.clone(), Plain, OK, "3"),
        ("{{printf \"%d\" (len .RepoTags)}}", row.clone(), Plain, OK, "2"),
        ("{{and 1 0}} {{and 1 \"x\"}} {{or 0 \"\"}} {{or 0 .Name}} {{and .Nope 1}}", row.clone(), Plain, OK, "0 x  web <no value>"),
        ("{{or 1 (index .Empty 9)}} {{and 0 (index .Empty 9)}}", row.clone(), Plain, OK, "1 0"),
        ("{{not .True}} {{not .Empty}} {{not .Nope}}", row.clone(), Plain, OK, "false true true"),
        ("{{eq .Zero 3 2 0}} {{eq .Name \"web\"}} {{ne 1 2}} {{lt 1 2}} {{le 2 2}} {{gt \"b\" \"a\"}} {{ge 1.5 2.5}}", row.clone(), Plain, OK, "true true true true true true false"),
        ("{{eq .Nope \"x\"}} {{eq .Nope nil}} {{eq .Nil nil}}", row.clone(), Plain, OK, "false true true"),
        ("{{if eq .State.Status \"exited\" \"dead\"}}stopped{{end}}", row.clone(), Plain, OK, "stopped"),
        ("{{html \"<a href='x'>&</a>\"}} {{js \"it's <b>\"}} {{urlquery \"a b&c/d\"}}", json!({}), Plain, OK, "&lt;a href=&#39;x&#39;&gt;&amp;&lt;/a&gt; it\\'s \\u003Cb\\u003E a+b%26c%2Fd"),
        ("{{html .Nope}}", row.clone(), Plain, OK, "&lt;no value&gt;"),
        ("{{(.State).Status}} {{(index .Mounts 0).Type}}", row.clone(), Plain, OK, "exited bind"),
        // --- define / template / block ----------------------------------
        ("{{define \"T\"}}[{{.}}]{{end}}{{template \"T\" .Name}}{{template \"T\" 2}}", row.clone(), Plain, OK, "[web][2]"),
        ("{{block \"B\" .}}default {{.Name}}{{end}}", row.clone(), Plain, OK, "default web"),
        ("{{define \"T\"}}{{$}}{{end}}{{template \"T\"}}", row.clone(), Plain, OK, "<no value>"),
        // --- docker env: methods, nil texts, struct errors ---------------
        ("{{.Label \"com.example.x\"}}|{{.Label \"nope\"}}", row.clone(), Docker, OK, "val|"),
        ("{{\"b\" | .Label}}", row.clone(), Docker, OK, "2"),
        ("{{.Mounts}} {{len .Mounts}}", json!({"Mounts": null, "Labels": {}}), Docker, OK, "[] 0"),
        ("{{range .Mounts}}x{{else}}none{{end}}", json!({"Mounts": null, "Labels": {}}), Docker, OK, "none"),
        ("[{{index .Labels \"x\"}}] {{.Labels}}", json!({"Labels": null}), Docker, OK, "[] map[]"),
        ("{{join .Args \" \"}}.", json!({"Args": null, "Labels": {}}), Docker, OK, "."),
        ("{{.Labels.x}}", json!({"Labels": null}), Docker, OK, "<no value>"),
        ("{{.}}", json!({"Args": null, "X": null}), Docker, OK, "map[Args:[] X:<nil>]"),
        ("{{.Label}}", row.clone(), Docker, ERR, "template: :1:2: executing \"\" at <.Label>: error calling Label: wrong number of args for Label: want 1 got 0"),
        ("{{.Nope}}", row.clone(), Docker, ERR, "template: :1:2: executing \"\" at <.Nope>: can't evaluate field Nope in type *formatter.ContainerContext"),
        ("{{.Foo}}", row.clone(), MapError, ERR, "template: :1:2: executing \"\" at <.Foo>: map has no entry for key \"Foo\""),
        ("{{.State.Foo}}", row.clone(), MapError, ERR, "template: :1:8: executing \"\" at <.State.Foo>: map has no entry for key \"Foo\""),
        // --- parse errors ------------------------------------------------
        ("{{.ID", row.clone(), Plain, ERR, "template: :1: unclosed action"),
        ("a\nb\n{{.ID", row.clone(), Plain, ERR, "template: :3: unclosed action"),
        ("{{.ID\n\n", row.clone(), Plain, ERR, "template: :3: unclosed action started at :1"),
        ("{{.ID}", row.clone(), Plain, ERR, "template: :1: bad character U+007D '}'"),
        ("{{.ID }", row.clone(), Plain, ERR, "template: :1: unexpected \"}\" in operand"),
        ("{{foo}}", row.clone(), Plain, ERR, "template: :1: function \"foo\" not defined"),
        ("{{if .X}}a", row.clone(), Plain, ERR, "template: :1: unexpected EOF"),
        ("{{range .X}}\n", row.clone(), Plain, ERR, "template: :2: unexpected EOF"),
        ("{{end}}", row.clone(), Plain, ERR, "template: :1: unexpected {{end}}"),
        ("{{if .X}}{{else}}{{else}}{{end}}", row.clone(), Plain, ERR, "template: :1: expected end; found {{else}}"),
        ("{{else}}", row.clone(), Plain, ERR, "template: :1: unexpected {{else}}"),
        ("{{\"abc}}", row.clone(), Plain, ERR, "template: :1: unterminated quoted string"),
        ("{{`abc}}", row.clone(), Plain, ERR, "template: :1: unterminated raw quoted string"),
        ("{{'a}}", row.clone(), Plain, ERR, "template: :1: unterminated character constant"),
        ("{{\"\\q\"}}", row.clone(), Plain, ERR, "template: :1: invalid syntax"),
        ("{{$x}}", row.clone(), Plain, ERR, "template: :1: undefined variable \"$x\""),
        ("{{with $x := 1}}{{end}}{{$x}}", row.clone(), Plain, ERR, "template: :1: undefined variable \"$x\""),
        ("{{range .L}}{{end}}{{break}}", row.clone(), Plain, ERR, "template: :1: {{break}} outside {{range}}"),
        ("{{.X | 3}}", row.clone(), Plain, ERR, "template: :1: non executable command in pipeline stage 2"),
        ("{{}}", row.clone(), Plain, ERR, "template: :1: missing value for command"),
        ("{{if}}{{end}}", row.clone(), Plain, ERR, "template: :1: missing value for if"),
        ("{{(1 2}}", row.clone(), Plain, ERR, "template: :1: unclosed left paren"),
        ("{{1)}}", row.clone(), Plain, ERR, "template: :1: unexpected right paren"),
        ("{{printf \"%d\" 3, 4}}", row.clone(), Plain, ERR, "template: :1: unexpected \",\" in operand"),
        ("{{true.X}}", row.clone(), Plain, ERR, "template: :1: unexpected . after term \"true\""),
        ("{{a#}}", row.clone(), Plain, ERR, "template: :1: bad character U+0023 '#'"),
        ("{{/* x", row.clone(), Plain, ERR, "template: :1: unclosed comment"),
        ("{{define \"a\"}}x{{end}}{{define \"a\"}}y{{end}}", row.clone(), Plain, ERR, "template: :1: template: multiple definition of template \"a\""),
        ("{{range $a, $b, $c := .L}}{{end}}", row.clone(), Plain, ERR, "template: :1: too many declarations in range"),
        ("{{template .X}}", row.clone(), Plain, ERR, "template: :1: unexpected \".X\" in template clause"),
        // --- execution errors --------------------------------------------
        ("{{nil}}", row.clone(), Plain, ERR, "template: :1:2: executing \"\" at <nil>: nil is not a command"),
        ("{{index .RepoTags 5}}", row.clone(), Plain, ERR, "template: :1:2: executing \"\" at <index .RepoTags 5>: error calling index: index out of range: 5"),
        ("{{ index .RepoTags 2 }}", row.clone(), Plain, ERR, "template: :1:3: executing \"\" at <index .RepoTags 2>: error calling index: reflect: slice index out of range"),
        ("{{index}}", row.clone(), Plain, ERR, "template: :1:2: executing \"\" at <index>: wrong number of args for index: want at least 1 got 0"),
        ("{{index .Nope 1}}", row.clone(), Plain, ERR, "template: :1:2: executing \"\" at <index .Nope 1>: error calling index: index of untyped nil"),
        ("{{index .RepoTags \"x\"}}", row.clone(), Plain, ERR, "template: :1:2: executing \"\" at <index .RepoTags \"x\">: error calling index: cannot index slice/array with type string"),
        ("{{index .Config.Labels 1}}", row.clone(), Plain, ERR, "template: :1:2: executing \"\" at <index .Config.Labels 1>: error calling index: value has type int; should be string"),
        ("{{len 3}}", row.clone(), Plain, ERR, "template: :1:2: executing \"\" at <len 3>: error calling len: len of type int"),
        ("{{len .Nil}}", row.clone(), Plain, ERR, "template: :1:2: executing \"\" at <len .Nil>: error calling len: len of nil pointer"),
        ("{{not 1 2}}", row.clone(), Plain, ERR, "template: :1:2: executing \"\" at <not>: wrong number of args for not: want 1 got 2"),
        ("{{.Name.Foo}}", row.clone(), Plain, ERR, "template: :1:7: executing \"\" at <.Name.Foo>: can't evaluate field Foo in type string"),
        ("{{.Nil.Foo}}", row.clone(), Plain, ERR, "template: :1:6: executing \"\" at <.Nil.Foo>: nil pointer evaluating interface {}.Foo"),
        ("{{.Name 1}}", row.clone(), Plain, ERR, "template: :1:2: executing \"\" at <.Name>: Name is not a method but has arguments"),
        ("{{upper .Zero}}", row.clone(), Plain, ERR, "template: :1:8: executing \"\" at <.Zero>: wrong type for value; expected string; got int"),
        ("{{upper 3}}", row.clone(), Plain, ERR, "template: :1:8: executing \"\" at <3>: expected string; found 3"),
        ("{{upper .Nope}}", row.clone(), Plain, ERR, "template: :1:8: executing \"\" at <.Nope>: invalid value; expected string"),
        ("{{.Zero | upper}}", row.clone(), Plain, ERR, "template: :1:10: executing \"\" at <upper>: wrong type for value; expected string; got int"),
        ("{{truncate .Name \"x\"}}", row.clone(), Plain, ERR, "template: :1:17: executing \"\" at <\"x\">: expected integer; found \"x\""),
        ("{{join .Mounts \",\"}}", row.clone(), Plain, ERR, "template: :1:7: executing \"\" at <.Mounts>: wrong type for value; expected []string; got []interface {}"),
        ("{{eq \"a\" 1}}", row.clone(), Plain, ERR, "template: :1:2: executing \"\" at <eq \"a\" 1>: error calling eq: incompatible types for comparison: string and int"),
        ("{{lt true false}}", row.clone(), Plain, ERR, "template: :1:2: executing \"\" at <lt true false>: error calling lt: invalid type for comparison"),
        ("{{eq .RepoTags .RepoTags}}", row.clone(), Plain, ERR, "template: :1:2: executing \"\" at <eq .RepoTags .RepoTags>: error calling eq: non-comparable type [nginx:latest nginx:1.25]: []string"),
        ("{{.Zero | .Name}}", row.clone(), Plain, ERR, "template: :1:10: executing \"\" at <.Name>: Name is not a method but has arguments"),
        ("{{eq 1.0 1}}", row.clone(), Plain, ERR, "template: :1:2: executing \"\" at <eq 1.0 1>: error calling eq: incompatible types for comparison: float64 and int"),
        ("{{slice .RepoTags 2 1}}", row.clone(), Plain, ERR, "template: :1:2: executing \"\" at <slice .RepoTags 2 1>: error calling slice: invalid slice index: 2 > 1"),
        ("{{printf 3}}", row.clone(), Plain, ERR, "template: :1:9: executing \"\" at <3>: expected string; found 3"),
        ("{{1 2}}", row.clone(), Plain, ERR, "template: :1:2: executing \"\" at <1>: can't give argument to non-function 1"),
        ("{{range .Name}}{{end}}", row.clone(), Plain, ERR, "template: :1:8: executing \"\" at <.Name>: range can't iterate over web"),
        ("{{range $i, $v := 3}}{{end}}", row.clone(), Plain, ERR, "template: :1:18: executing \"\" at <3>: can't use 3 to iterate over more than one variable"),
        ("{{template \"nope\"}}", row.clone(), Plain, ERR, "template: :1:11: executing \"\" at <{{template \"nope\"}}>: template \"nope\" not defined"),
        ("{{template \"T\" 3}}{{define \"T\"}}{{index . 0}}{{end}}", row.clone(), Plain, ERR, "template: :1:34: executing \"T\" at <index . 0>: error calling index: can't index item of type int"),
        ("{{define \"R\"}}{{template \"R\"}}{{end}}{{template \"R\"}}", row.clone(), Plain, ERR, "template: :1:25: executing \"R\" at <{{template \"R\"}}>: exceeded maximum template depth (1000)"),
        ("{{call .Name}}", row.clone(), Plain, ERR, "template: :1:2: executing \"\" at <call .Name>: error calling call: non-function .Name of type string"),
        ("{{pad .Name -1 0}}", row.clone(), Plain, ERR, "template: :1:2: executing \"\" at <pad .Name -1 0>: error calling pad: strings: negative Repeat count"),
        ("x{{.Name}}\n  {{index .Empty 0}}", row.clone(), Plain, ERR, "template: :2:4: executing \"\" at <index .Empty 0>: error calling index: reflect: slice index out of range"),
        // --- Go structs (Env::struct_fields, marshal_json) -------------
        ("{{.S}}", st.clone(), Struct, OK, "{x 1 {true} <nil>}"),
        ("{{printf \"%v|%+v\" .S .S}}", st.clone(), Struct, OK, "{x 1 {true} <nil>}|{B:x A:1 Inner:{C:true} P:<nil>}"),
        ("{{.L}}", st.clone(), Struct, OK, "[{x 1 {true} <nil>}]"),
        ("{{.M}} {{.M.N}} {{.M.none}}", st.clone(), Struct, OK, "map[N:<nil> k:v] <no value> <no value>"),
        ("{{json .S}} {{json .M}}", st.clone(), Struct, OK, "custom {\"N\":null,\"k\":\"v\"}"),
        ("{{range .S}}{{end}}", st.clone(), Struct, ERR, "template: :1:8: executing \"\" at <.S>: range can't iterate over {x 1 {true} <nil>}"),
        ("{{len .S}}", st.clone(), Struct, ERR, "template: :1:2: executing \"\" at <len .S>: error calling len: len of type struct"),
        ("{{index .S \"A\"}}", st.clone(), Struct, ERR, "template: :1:2: executing \"\" at <index .S \"A\">: error calling index: can't index item of type struct"),
        ("{{.S.Nope}}", st.clone(), Struct, ERR, "template: :1:4: executing \"\" at <.S.Nope>: can't evaluate field Nope in type main.T"),
        ("{{.S.Nope 1}}", st.clone(), Struct, ERR, "template: :1:4: executing \"\" at <.S.Nope>: can't evaluate field Nope in type main.T"),
        ("{{.M.k 1}}", st.clone(), Struct, ERR, "template: :1:4: executing \"\" at <.M.k>: k is not a method but has arguments"),
    ]
}

#[test]
fn table() {
    let mut failures = Vec::new();
    let all = cases();
    for (tmpl, data, env, ok, want) in &all {
        let got = run(tmpl, data, *env);
        let pass = match &got {
            Ok(out) => *ok && out == want,
            Err(e) => !*ok && e == want,
        };
        if !pass {
            failures.push(format!(
                "template {tmpl:?} ({env:?})\n   want {}: {want:?}\n    got {got:?}",
                if *ok { "output" } else { "error" }
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        all.len(),
        failures.join("\n")
    );
}

#[test]
fn deep_nesting_is_bounded() {
    let t = format!("{}x{}", "{{if true}}".repeat(150), "{{end}}".repeat(150));
    assert_eq!(
        Template::parse(&t).unwrap().execute(&json!({})).unwrap(),
        "x"
    );
    let t = format!("{}x{}", "{{if true}}".repeat(300), "{{end}}".repeat(300));
    assert_eq!(
        Template::parse(&t).unwrap_err().to_string(),
        "template: :1: max expression depth exceeded"
    );
}

#[test]
fn parse_error_is_flagged() {
    let e = Template::parse("{{.ID").unwrap_err();
    assert!(e.is_parse());
    let e = Template::parse("{{index}}")
        .unwrap()
        .execute(&json!({}))
        .unwrap_err();
    assert!(!e.is_parse());
}

#[test]
fn header_rendering() {
    struct HeaderEnv;
    impl Env for HeaderEnv {
        fn call_method(
            &self,
            _: &Value,
            name: &str,
            args: &[Value],
        ) -> Option<Result<Value, String>> {
            (name == "Label").then(|| {
                let a = args.first().and_then(Value::as_str).unwrap_or("");
                let last = a.rsplit('.').next().unwrap_or("");
                Ok(Value::String(last.replace(['-', '_'], " ")))
            })
        }
    }
    let t = Template::parse(
        "{{.ID}}\t{{json .Mounts}}\t{{upper .Names}}\t{{pad .ID 1 1}}\t{{.Label \"com.docker.compose.project\"}}\t{{truncate .Names 2}}",
    )
    .unwrap();
    let header = json!({"ID": "CONTAINER ID", "Mounts": "MOUNTS", "Names": "NAMES"});
    assert_eq!(
        t.execute_header(&header, &HeaderEnv),
        "CONTAINER ID\tMOUNTS\tNAMES\t CONTAINER ID \tproject\tNAMES"
    );
    // Errors are swallowed and the partial output kept, as docker does.
    let t = Template::parse("{{.ID}}|{{index .ID 99}}|{{.ID}}").unwrap();
    assert_eq!(t.execute_header(&header, &HeaderEnv), "CONTAINER ID|");
}

#[test]
fn fields_of_top_level_actions() {
    let t = Template::parse(
        "{{.ID}}\t{{json .Mounts}}\t{{.Label \"a.b\"}}\t{{.Name | upper}}\t{{if .X}}{{.Y}}{{end}}\t{{(index .M 0).Z}}\t{{\"x\"}}",
    )
    .unwrap();
    assert_eq!(t.fields(), vec!["ID", "Mounts", "Label", "Name", "Z", ""]);
}

#[test]
fn execute_into_keeps_partial_output() {
    let t = Template::parse("a{{.X}}b{{index .X 1}}c").unwrap();
    let mut out = String::new();
    let r = t.execute_into(&json!({"X": "y"}), &berth_template::JsonEnv, &mut out);
    assert!(r.is_err());
    assert_eq!(out, "ayb");
}

#[test]
fn template_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Template>();
}

#[test]
fn go_json_escapes_html_on_request() {
    let v = json!({"a": "<x&y>", "b": "\u{2028}"});
    assert_eq!(
        berth_template::go_json(&v, true),
        r#"{"a":"\u003cx\u0026y\u003e","b":"\u2028"}"#
    );
    assert_eq!(
        berth_template::go_json(&v, false),
        r#"{"a":"<x&y>","b":"\u2028"}"#
    );
}
