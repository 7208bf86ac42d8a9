/// The page's inline CSS and JavaScript, and the run palette.
///
/// Colours are Okabe and Ito's palette for colour-blind readers; past eight runs the lines also differ by dash,
/// so no two of the first 32 runs look alike in colour or in grey.
enum ReportStyle {
    static let palette = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000", "#F0E442"]
    static let dashes = ["none", "7 3", "2 3", "9 3 2 3"]
    static var runClasses: Int { palette.count * dashes.count }

    /// `.cN{--c:…;--d:…}` for every run class.
    static var runClassRules: String {
        (0..<runClasses).map { index in
            ".c\(index){--c:\(palette[index % palette.count]);--d:\(dashes[index / palette.count])}"
        }.joined()
    }

    static let css = """
        :root{color-scheme:light;--ink:#1a1a1a;--mute:#5b5b5b;--rule:#d6d6d6;--band:#f4f4f4;--focus:#0072B2}
        *{box-sizing:border-box}
        body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);margin:0 auto;
        max-width:1400px;padding:0 20px 40px}
        header{border-bottom:2px solid var(--ink);margin-bottom:8px}
        h1{font-size:22px;margin:16px 0 6px}h2{font-size:18px;margin:28px 0 8px}h3{font-size:15px;margin:0}
        dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:6px 0 12px}
        dl.facts dt{color:var(--mute)}dl.facts dd{margin:0}
        nav ul{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:4px 16px;margin:8px 0}
        a{color:#0b5394}
        .note{color:var(--mute);font-size:12px}
        .scroll{overflow-x:auto;max-width:100%}
        table{border-collapse:collapse;font-variant-numeric:tabular-nums}
        th,td{padding:3px 8px;border-bottom:1px solid var(--rule);text-align:left;white-space:nowrap}
        th{background:var(--band);position:sticky;top:0}
        td.num,th.num{text-align:right}
        th button{font:inherit;font-weight:600;background:none;border:0;padding:0;cursor:pointer;color:inherit}
        th[aria-sort=ascending] button::after{content:" \\25B2"}th[aria-sort=descending] button::after{content:" \\25BC"}
        td.best{font-weight:700;background:#e6f2fa}
        td.best::before{content:"\\2605 ";color:#0072B2}
        .sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
        :focus-visible{outline:3px solid var(--focus);outline-offset:2px}
        .charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(420px,1fr));gap:18px}
        figure{margin:0;border:1px solid var(--rule);padding:10px;position:relative;break-inside:avoid}
        figcaption{margin-bottom:4px}
        svg{max-width:100%;height:auto;display:block}
        .plot .grid line{stroke:#e3e3e3;stroke-width:1}
        .plot text,.graph text,.heat text,.bars text{font:11px system-ui,sans-serif;fill:#333}
        .plot .ty{text-anchor:end;dominant-baseline:middle}.plot .tx,.plot .axis{text-anchor:middle}
        .line{fill:none;stroke:var(--c);stroke-dasharray:var(--d);stroke-width:1.6;stroke-linejoin:round}
        .line.off,.line.dim.off{display:none}.lines.hovering .line{opacity:.35}.lines .line.hot{opacity:1;stroke-width:2.6}
        .cursor{fill:#fff;stroke:#000;stroke-width:1.5;pointer-events:none}
        .tip{position:absolute;pointer-events:none;background:#fff;border:1px solid #999;padding:2px 6px;font-size:12px;
        box-shadow:0 1px 3px rgba(0,0,0,.2);white-space:nowrap}
        .tip:empty{display:none}
        ul.legend{list-style:none;padding:0;margin:6px 0 0;display:flex;flex-wrap:wrap;gap:2px 6px;max-height:7.5em;
        overflow:auto}
        ul.legend button{font:12px ui-monospace,monospace;border:1px solid transparent;background:none;padding:1px 4px;
        cursor:pointer;color:inherit;display:inline-flex;align-items:center;gap:4px}
        ul.legend button[aria-pressed=false]{opacity:.4;text-decoration:line-through}
        ul.legend i{display:inline-block;width:18px;height:0;border-top:3px solid var(--c)}
        ul.legend i.dash{border-top-style:dashed}
        .evals{display:flex;flex-wrap:wrap;gap:18px}
        .evals figure{flex:0 1 auto}
        .diffpick{display:flex;gap:16px;align-items:center;flex-wrap:wrap;margin-bottom:8px}
        .diffpick select{font:13px ui-monospace,monospace}
        .o-ran{fill:#009E73}.o-restored{fill:#56B4E9}.o-skipped{fill:#e8e8e8}.o-failed{fill:#D55E00}.o-none{fill:#fff}
        .graph rect{stroke:#333;stroke-width:1.2}.graph .edge{fill:none;stroke:#555;stroke-width:1.4}
        .graph text.name{font-weight:700;font-size:12px}
        @media print{
          body{max-width:none;padding:0;font-size:11px}
          nav,.diffpick,.tip,.cursor,.noprint{display:none}
          th{position:static}
          ul.legend{max-height:none;overflow:visible}
          ul.legend button{border:0}
          .charts{grid-template-columns:repeat(2,1fr)}
          figure,table,section{break-inside:avoid}
          .scroll{overflow:visible}
          *{-webkit-print-color-adjust:exact;print-color-adjust:exact}
          a{color:inherit;text-decoration:none}
        }
        """

    /// The page's behaviour: sortable tables, legends that hide runs, hover read-outs, the diff picker.
    /// Everything works on the markup the page already holds; with JavaScript off nothing is lost but these.
    static let script = """
        (function(){
        'use strict';
        var data=JSON.parse(document.getElementById('report-data').textContent);
        function txt(el,s){el.textContent=s;}
        // Sorting: every th button sorts its table by that column; missing values go last either way.
        document.querySelectorAll('table.sortable').forEach(function(table){
          var heads=table.querySelectorAll('thead th');
          heads.forEach(function(th,col){
            var b=th.querySelector('button'); if(!b) return;
            b.addEventListener('click',function(){
              var asc=th.getAttribute('aria-sort')!=='ascending';
              heads.forEach(function(h){h.removeAttribute('aria-sort');});
              th.setAttribute('aria-sort',asc?'ascending':'descending');
              var numeric=th.classList.contains('num');
              var body=table.tBodies[0]; var rows=Array.prototype.slice.call(body.rows);
              rows.sort(function(r1,r2){
                var a=r1.cells[col].getAttribute('data-v'), b=r2.cells[col].getAttribute('data-v');
                if(a===null||a==='') return (b===null||b==='')?0:1;
                if(b===null||b==='') return -1;
                var c=numeric?(parseFloat(a)-parseFloat(b)):(a<b?-1:a>b?1:0);
                return asc?c:-c;
              });
              rows.forEach(function(r){body.appendChild(r);});
            });
          });
        });
        // Legends: a run hidden in one chart is hidden in every chart.
        function setRun(run,on){
          document.querySelectorAll('.line[data-run="'+run+'"]').forEach(function(l){l.classList.toggle('off',!on);});
          document.querySelectorAll('ul.legend button[data-run="'+run+'"]').forEach(function(b){
            b.setAttribute('aria-pressed',on?'true':'false');});
        }
        document.querySelectorAll('ul.legend button').forEach(function(b){
          b.addEventListener('click',function(){setRun(b.getAttribute('data-run'),b.getAttribute('aria-pressed')==='false');});
        });
        // Hover and keys: the nearest point of a visible line, with its run, step and value.
        document.querySelectorAll('figure.chart').forEach(function(fig){
          var svg=fig.querySelector('svg.plot'), tip=fig.querySelector('.tip'), dot=svg.querySelector('.cursor');
          var group=svg.querySelector('.lines'), cache=null, focus=null;
          function lines(){
            if(!cache){cache=Array.prototype.map.call(svg.querySelectorAll('.line'),function(l){
              return {el:l,run:l.getAttribute('data-run'),pts:l.points,
                s:l.getAttribute('data-s').split(' '),v:l.getAttribute('data-v').split(' ')};});}
            return cache.filter(function(c){return !c.el.classList.contains('off');});
          }
          function show(c,i){
            group.querySelectorAll('.hot').forEach(function(l){l.classList.remove('hot');});
            if(!c){group.classList.remove('hovering');dot.setAttribute('cx',-10);dot.setAttribute('cy',-10);txt(tip,'');focus=null;return;}
            focus={c:c,i:i}; var p=c.pts.getItem(i);
            group.classList.add('hovering'); c.el.classList.add('hot');
            dot.setAttribute('cx',p.x); dot.setAttribute('cy',p.y);
            var run=data.runs[+c.run];
            txt(tip,'run '+(run?run.short:c.run)+' \\u00b7 step '+c.s[i]+' \\u00b7 '+svg.getAttribute('data-key')+' '+fmt(parseFloat(c.v[i])));
            var box=svg.getBoundingClientRect(), fb=fig.getBoundingClientRect(), scale=box.width/\(Int(LineChart.width));
            tip.style.left=Math.max(0,Math.min(box.left-fb.left+p.x*scale+12, fig.clientWidth-tip.offsetWidth-4))+'px';
            tip.style.top=(box.top-fb.top+p.y*scale-30)+'px';
          }
          svg.addEventListener('mousemove',function(e){
            var m=svg.getScreenCTM(); if(!m) return;
            var pt=svg.createSVGPoint(); pt.x=e.clientX; pt.y=e.clientY; pt=pt.matrixTransform(m.inverse());
            var best=null, bi=0, bd=Infinity;
            lines().forEach(function(c){
              for(var i=0;i<c.pts.numberOfItems;i++){var p=c.pts.getItem(i), d=(p.x-pt.x)*(p.x-pt.x)+(p.y-pt.y)*(p.y-pt.y);
                if(d<bd){bd=d;best=c;bi=i;}}
            });
            show(bd<1600?best:null,bi);
          });
          svg.addEventListener('mouseleave',function(){show(null);});
          svg.addEventListener('blur',function(){show(null);});
          svg.addEventListener('keydown',function(e){
            var ls=lines(); if(!ls.length) return;
            var li=focus?Math.max(0,ls.indexOf(focus.c)):0, i=focus?focus.i:0;
            if(e.key==='ArrowRight') i++; else if(e.key==='ArrowLeft') i--;
            else if(e.key==='ArrowDown') li++; else if(e.key==='ArrowUp') li--;
            else if(e.key==='Escape'){show(null);return;} else return;
            e.preventDefault(); li=(li+ls.length)%ls.length; var c=ls[li];
            show(c,Math.max(0,Math.min(c.pts.numberOfItems-1,i)));
          });
        });
        // The diff panel: the same rows as `pipe runs diff A B` (differing params and latest metrics, b - a).
        var pickA=document.getElementById('diff-a'), pickB=document.getElementById('diff-b');
        var pickAll=document.getElementById('diff-all'), out=document.getElementById('diff-body');
        function strictNumber(t){
          if(typeof t!=='string'||!/^[+-]?(\\d+\\.?\\d*|\\.\\d+)([eE][+-]?\\d+)?$/.test(t)) return null;
          var n=Number(t); return isFinite(n)?n:null;
        }
        // printf's %.6g, as the tables print numbers.
        function strip(t){return t.indexOf('.')>=0?t.replace(/0+$/,'').replace(/\\.$/,''):t;}
        function fmt(v){
          if(v===0) return '0'; if(!isFinite(v)) return String(v);
          var p=v.toExponential(5).split('e'), ex=parseInt(p[1],10);
          if(ex<-4||ex>=6) return strip(p[0])+'e'+(ex<0?'-':'+')+(Math.abs(ex)<10?'0':'')+Math.abs(ex);
          return strip(v.toFixed(5-ex));
        }
        function delta(d){return d>0?'+'+fmt(d):fmt(d);}
        function rows(a,b,all,numeric){
          var keys=Object.keys(a).concat(Object.keys(b).filter(function(k){return !(k in a);})).sort();
          var res=[];
          keys.forEach(function(k){
            var x=(k in a)?a[k]:null, y=(k in b)?b[k]:null;
            var differs=numeric?(x!==y):(x!==y);
            if(!all&&!differs) return;
            var d=null;
            if(numeric){ if(x!==null&&y!==null) d=y-x; }
            else { var nx=strictNumber(x), ny=strictNumber(y); if(nx!==null&&ny!==null) d=ny-nx; }
            res.push({k:k,a:x,b:y,d:d});
          });
          return res;
        }
        function section(title,list,numeric){
          var wrap=document.createElement('div');
          if(!list.length){var p=document.createElement('p'); txt(p,title+': no differences'); wrap.appendChild(p); return wrap;}
          var t=document.createElement('table'); t.className='diff'; t.setAttribute('data-section',title);
          var h=t.createTHead().insertRow();
          [title,'A','B','delta'].forEach(function(s,i){var th=document.createElement('th'); txt(th,s); if(i) th.className='num'; h.appendChild(th);});
          var body=t.createTBody();
          list.forEach(function(r){
            var tr=body.insertRow(); tr.setAttribute('data-key',r.k);
            var cells=[r.k, r.a===null?'-':(numeric?fmt(r.a):r.a), r.b===null?'-':(numeric?fmt(r.b):r.b), r.d===null?'':delta(r.d)];
            cells.forEach(function(s,i){var td=tr.insertCell(); txt(td,s); if(i) td.className='num';});
          });
          wrap.appendChild(t); return wrap;
        }
        function renderDiff(){
          var a=data.runs[+pickA.value], b=data.runs[+pickB.value]; if(!a||!b) return;
          out.textContent='';
          var head=document.createElement('p');
          txt(head,'A '+a.short+' ('+a.status+', '+a.start+')  \\u2192  B '+b.short+' ('+b.status+', '+b.start+')');
          out.appendChild(head);
          out.appendChild(section('params',rows(a.params,b.params,pickAll.checked,false),false));
          out.appendChild(section('metrics',rows(a.metrics,b.metrics,pickAll.checked,true),true));
        }
        if(pickA&&pickB&&out){[pickA,pickB,pickAll].forEach(function(el){el.addEventListener('change',renderDiff);});}
        document.documentElement.classList.add('js');
        })();
        """
}
