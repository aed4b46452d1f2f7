cwlVersion: v1.2
class: ExpressionTool
requirements: {InlineJavascriptRequirement: {}}
inputs: {n: int}
outputs: {m: int}
expression: "$({m: inputs.n * 2})"
